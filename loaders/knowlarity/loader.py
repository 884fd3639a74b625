"""`leadlink load knowlarity`: pull the call log window by window, landing page by page.

Completeness over a live, newest-first list: within a chunk (a time window) we page with
`offset += len(objects)` until a page is empty or `offset >= total_count`. New calls shift rows
down (we see some twice: the natural key makes that harmless) and push new rows in front of the
offset (we would miss those). So a pass is complete only when the distinct records it saw cover
the latest `total_count`; otherwise the chunk is read again (up to LEADLINK_KNOWLARITY_MAX_PASSES).
The cursor moves to the chunk's end only with a complete chunk, in the same transaction as the
chunk's last page; a later run re-reads from the cursor minus LEADLINK_LOOKBACK_MINUTES.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

from loaders.database import connect
from loaders.knowlarity.client import KnowlarityClient, ist_text
from loaders.landing import landing_batch
from loaders.progress import Progress
from loaders.settings import Settings
from loaders.shapes import Item, Record, Rejected, split_payload
from loaders.sources import Source
from loaders.state import (
    ConfigError,
    LoadResult,
    get_cursor,
    land_page,
    source_lock,
    utc_now,
    window_start,
)

log = logging.getLogger("leadlink.knowlarity")

SOURCE: Source = "knowlarity"
SCOPE = "calllog"
MAX_CONSECUTIVE_BAD_PAGES = 3


def chunks(start: datetime, end: datetime, size: timedelta) -> Iterator[tuple[datetime, datetime]]:
    cursor = start
    while cursor < end:
        chunk_end = min(cursor + size, end)
        yield cursor, chunk_end
        cursor = chunk_end


class _ChunkLoader:
    def __init__(self, conn, settings: Settings, client: KnowlarityClient, batch_id: int,
                 result: LoadResult, progress: Progress, max_passes: int) -> None:
        self.conn, self.settings, self.client = conn, settings, client
        self.batch_id, self.result, self.progress = batch_id, result, progress
        self.max_passes = max_passes

    def _land(self, items: list[Item], where: str, advance: tuple[str, datetime] | None) -> None:
        counts = land_page(self.conn, self.settings, SOURCE, items, self.batch_id,
                           f"api:knowlarity:{where}", advance)
        self.result.counts.add(counts)

    def load(self, start: datetime, end: datetime, may_advance: bool) -> bool:
        """Read [start, end] until a pass is complete. True when it was."""
        window = f"{ist_text(start)}..{ist_text(end)}"
        for attempt in range(1, self.max_passes + 1):
            offset, total, bad_in_row = 0, None, 0
            keys: set[str] = set()
            rejected = 0
            malformed = False
            while True:
                page = self.client.get_page(start, end, offset)
                self.result.pages += 1
                where = f"{window}@{offset}"
                if page.problem:
                    malformed, bad_in_row = True, bad_in_row + 1
                    self.result.malformed_pages += 1
                    log.warning("knowlarity: malformed page (%s, offset %d): %s; quarantined",
                                window, offset, page.problem)
                    items: list[Item] = [Rejected(
                        f"malformed Knowlarity call-log page ({page.problem}; window {window}, "
                        f"offset {offset})", page.text)]
                    offset += self.client.config.page_size
                    last = (total is not None and offset >= total) \
                        or bad_in_row >= MAX_CONSECUTIVE_BAD_PAGES
                else:
                    bad_in_row = 0
                    items = list(split_payload(SOURCE, page.document))
                    for item in items:
                        if isinstance(item, Record):
                            keys.add(item.key)
                        else:
                            rejected += 1
                    total = page.total_count if page.total_count is not None else total
                    offset += len(page.objects)
                    last = not page.objects or (total is not None and offset >= total)
                self.progress.update(f"{window} pass {attempt}: offset {offset}/{total or '?'}, "
                                     f"landed {self.result.counts.landed}")
                if not last:
                    self._land(items, where, None)
                    continue
                complete = not malformed and (total is None or len(keys) + rejected >= total)
                advance = (SCOPE, end) if complete and may_advance else None
                self._land(items, where, advance)
                break
            if complete:
                return True
            if malformed:
                return False  # a bad page will not heal by re-reading at once; next run retries
            log.info("knowlarity: %s pass %d saw %d distinct of %s: records moved while paging; "
                     "reading the window again", window, attempt, len(keys) + rejected, total)
        log.warning("knowlarity: %s still moving after %d passes; the cursor stays before it",
                    window, self.max_passes)
        return False


def load_knowlarity(settings: Settings, url: str, since: datetime | None = None,
                    until: datetime | None = None, wait: bool = False,
                    client: KnowlarityClient | None = None,
                    progress: Progress | None = None) -> LoadResult:
    if client is None:
        missing = settings.missing_credentials(SOURCE)
        if missing:
            raise ConfigError(f"knowlarity: set {' and '.join(missing)} to pull the call log")
        client = KnowlarityClient.from_settings(settings)
    progress = progress or Progress("knowlarity")
    chunk_size = timedelta(hours=settings.knowlarity.chunk_hours)
    max_passes = settings.knowlarity.max_passes
    result = LoadResult(SOURCE)
    lock = source_lock(settings, url, SOURCE, wait)
    conn = connect(url, "leadlink-load-knowlarity")
    try:
        end = until or utc_now()
        with conn.cursor() as cursor:
            saved = get_cursor(cursor, settings, SOURCE, SCOPE)
        start = window_start(since, saved, end, settings.lookback_minutes,
                             settings.knowlarity.initial_days)
        result.window = (start.isoformat(), end.isoformat())
        with landing_batch(conn, settings, SOURCE, "api", {
                "window": list(result.window), "cursor_before": saved.isoformat() if saved else None,
        }, url=url) as batch:
            result.batch_id = batch.batch_id
            batch.counts = result.counts
            loader = _ChunkLoader(conn, settings, client, batch.batch_id, result, progress,
                                  max_passes)
            may_advance = True
            try:
                for chunk_start, chunk_end in chunks(start, end, chunk_size):
                    if not loader.load(chunk_start, chunk_end, may_advance):
                        # A later chunk must not move the cursor past this one.
                        may_advance = False
                        result.incomplete_scopes.append(
                            f"{SCOPE} {ist_text(chunk_start)}..{ist_text(chunk_end)}")
            except BaseException as error:
                result.failed_scopes[SCOPE] = str(error)
                raise
            finally:
                progress.done()
                result.requests = client.http.requests_made
                result.retries = client.http.retries
            batch.detail.update({"pages": result.pages, "retries": result.retries,
                                 "incomplete": result.incomplete_scopes})
    finally:
        conn.close()
        lock.release()
    return result

"""`leadlink load meta`: every lead form of the page (whatever its status), then each form's leads
created in the window, following `paging.next` to the end; page by page, one transaction each,
with the form's cursor moved in the transaction of its last page."""

from __future__ import annotations

import logging
from datetime import datetime

from loaders.database import connect
from loaders.http import AuthError, HttpError
from loaders.landing import landing_batch
from loaders.meta.client import GraphClient, GraphPageError
from loaders.progress import Progress
from loaders.settings import Settings
from loaders.shapes import Item, Rejected, split_payload
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

log = logging.getLogger("leadlink.meta")

SOURCE: Source = "meta"


def _has_next(document: object) -> bool:
    paging = document.get("paging") if isinstance(document, dict) else None
    return isinstance(paging, dict) and bool(paging.get("next"))


def load_meta(settings: Settings, url: str, since: datetime | None = None,
              until: datetime | None = None, forms: tuple[str, ...] = (), wait: bool = False,
              client: GraphClient | None = None, progress: Progress | None = None) -> LoadResult:
    if client is None:
        missing = settings.missing_credentials(SOURCE)
        if missing:
            raise ConfigError(f"meta: set {' and '.join(missing)} to pull leads")
        client = GraphClient.from_settings(settings)
    progress = progress or Progress("meta")
    result = LoadResult(SOURCE)
    lock = source_lock(settings, url, SOURCE, wait)
    conn = connect(url, "leadlink-load-meta")
    try:
        end = until or utc_now()
        with landing_batch(conn, settings, SOURCE, "api", {
                "until": end.isoformat(), "since": since.isoformat() if since else None,
                "forms": list(forms)}, url=url) as batch:
            result.batch_id = batch.batch_id
            batch.counts = result.counts
            try:
                listed = client.list_forms(client.config.page_id)
                by_id = {str(form["id"]): form for form in listed}
                wanted = list(forms) if forms else list(by_id)
                for form_id in wanted:
                    if form_id not in by_id:
                        log.warning("meta: form %s is not listed on page %s; reading it anyway",
                                    form_id, client.config.page_id)
                    scope = f"form:{form_id}"
                    with conn.cursor() as cursor:
                        saved = get_cursor(cursor, settings, SOURCE, scope)
                    conn.rollback()
                    start = window_start(since, saved, end, settings.lookback_minutes,
                                         settings.meta.initial_days)
                    try:
                        _load_form(conn, settings, client, result, progress, form_id, scope,
                                   start, end)
                    except AuthError:
                        raise
                    except (HttpError, GraphPageError) as error:
                        # One form failing (retries exhausted, a deleted form) does not stop the
                        # others; the batch ends failed.
                        conn.rollback()
                        log.error("meta: form %s failed: %s", form_id, error)
                        result.failed_scopes[scope] = str(error)
                        batch.status = "failed"
            except BaseException as error:
                result.failed_scopes.setdefault("forms", str(error))
                raise
            finally:
                progress.done()
                result.requests = client.http.requests_made
                result.retries = client.http.retries
            batch.detail.update({"pages": result.pages, "retries": result.retries,
                                 "incomplete": result.incomplete_scopes,
                                 "failed": result.failed_scopes})
    finally:
        conn.close()
        lock.release()
    return result


def _load_form(conn, settings: Settings, client: GraphClient, result: LoadResult,
               progress: Progress, form_id: str, scope: str, start: datetime,
               end: datetime) -> None:
    for number, page in enumerate(client.iter_lead_pages(form_id, start, end)):
        result.pages += 1
        where = f"api:meta:form:{form_id}@page{number}"
        if page.problem:
            result.malformed_pages += 1
            result.incomplete_scopes.append(scope)
            log.warning("meta: form %s page %d malformed (%s); quarantined, cursor held back",
                        form_id, number, page.problem)
            items: list[Item] = [Rejected(
                f"malformed Graph leads page ({page.problem}; form {form_id}, page {number})",
                page.text)]
            result.counts.add(land_page(conn, settings, SOURCE, items, result.batch_id, where))
            return
        items = list(split_payload(SOURCE, page.document))
        last = not _has_next(page.document)
        advance = (scope, end) if last else None
        result.counts.add(land_page(conn, settings, SOURCE, items, result.batch_id, where, advance))
        progress.update(f"form {form_id} page {number + 1}, landed {result.counts.landed}")

"""State of the scheduled loads: cursors (moved in the caller's transaction) and the lease lock
(loaders.locks) that keeps two runs of one source apart."""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg2 import sql

from loaders.landing import LandingCounts
from loaders.locks import LockBusy, LockLost, hold
from loaders.settings import Settings

log = logging.getLogger("leadlink.state")


__all__ = ["ConfigError", "LoadResult", "LockBusy", "LockLost", "SourceLock", "held",
           "lease_seconds", "source_lock"]


class ConfigError(RuntimeError):
    """A required setting (env var) is missing or invalid; the message names it."""


@dataclass
class LoadResult:
    """What one source's run did, for the CLI line, `leadlink run --json` and the exit status."""

    source: str
    counts: LandingCounts = field(default_factory=LandingCounts)
    pages: int = 0
    requests: int = 0
    retries: int = 0
    malformed_pages: int = 0
    incomplete_scopes: list[str] = field(default_factory=list)
    failed_scopes: dict[str, str] = field(default_factory=dict)
    window: tuple[str, str] | None = None
    batch_id: int | None = None

    @property
    def ok(self) -> bool:
        return not self.failed_scopes

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, **self.counts.as_dict(), "pages": self.pages,
            "requests": self.requests, "retries": self.retries,
            "malformed_pages": self.malformed_pages, "incomplete": self.incomplete_scopes,
            "failed": self.failed_scopes, "batch_id": self.batch_id,
            "window": list(self.window) if self.window else None,
        }

    def line(self) -> str:
        counts = self.counts
        text = (f"{self.source}: landed {counts.landed}, already present {counts.already_present}, "
                f"quarantined {counts.quarantined} ({self.pages} pages, {self.retries} retries)")
        if self.incomplete_scopes:
            text += f"; cursor held back for {', '.join(self.incomplete_scopes)}"
        if self.failed_scopes:
            text += f"; FAILED {', '.join(self.failed_scopes)}"
        return text


def lease_seconds(settings: Settings) -> float:
    """How long a lock outlives a holder that stopped renewing it (crashed, killed, cut off)."""
    return settings.lock_lease_seconds  # LEADLINK_LOCK_LEASE_SECONDS, checked by Settings


class SourceLock:
    """A held lease lock; `release()` gives it back (idempotent). Raises LockLost on release when
    the lease ran out while held, so the caller can report that its work may have overlapped."""

    def __init__(self, manager: AbstractContextManager[str]) -> None:
        self._manager = manager
        self.holder = manager.__enter__()
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._manager.__exit__(None, None, None)


def source_lock(settings: Settings, url: str, source: str, wait: bool) -> SourceLock:
    """Take `source`'s lock (a row in raw.locks with a lease renewed while held: safe behind a
    transaction pooler, freed by the lease when the holder dies). Raises LockBusy unless `wait`."""
    return SourceLock(hold(
        url, settings.raw_schema, f"load:{source}", wait=wait, lease_seconds=lease_seconds(settings),
        busy_message=(f"another `leadlink load {source}` run holds the {source} lock; "
                      f"this run stops (use --wait to queue behind it)")))


def held(settings: Settings, url: str, name: str, wait: bool,
         busy_message: str) -> AbstractContextManager[str]:
    """Hold lock `name` (e.g. "build") for a block, with the configured lease."""
    return hold(url, settings.raw_schema, name, wait=wait, lease_seconds=lease_seconds(settings),
                busy_message=busy_message)


def get_cursor(cursor: Any, settings: Settings, source: str, scope: str) -> datetime | None:
    cursor.execute(
        sql.SQL("select cursor_at from {}.load_cursors where source = %s and scope = %s").format(
            sql.Identifier(settings.raw_schema)),
        (source, scope),
    )
    row = cursor.fetchone()
    return row[0] if row else None


def advance_cursor(cursor: Any, settings: Settings, source: str, scope: str, at: datetime,
                   batch_id: int | None) -> None:
    """Move the cursor forward to `at` (never backwards), in the caller's transaction."""
    cursor.execute(
        sql.SQL(
            "insert into {schema}.load_cursors as current (source, scope, cursor_at, batch_id)"
            " values (%s, %s, %s, %s)"
            " on conflict (source, scope) do update set"
            " cursor_at = greatest(current.cursor_at, excluded.cursor_at),"
            " batch_id = excluded.batch_id, updated_at = clock_timestamp()"
        ).format(schema=sql.Identifier(settings.raw_schema)),
        (source, scope, at, batch_id),
    )


def window_start(since: datetime | None, saved: datetime | None, until: datetime,
                 lookback_minutes: float, initial_days: float) -> datetime:
    """--since wins; else the saved cursor minus the look-back; else `initial_days` back."""
    if since is not None:
        return since
    if saved is not None:
        return saved - timedelta(minutes=lookback_minutes)
    return until - timedelta(days=initial_days)


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_time(value: str) -> datetime:
    """ISO 8601 (`2025-12-06T11:00:00+05:30`, `2025-12-06 11:00`, `2025-12-06`), Meta's `+0000`, or
    unix seconds. A value without an offset is UTC."""
    text = value.strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a time: {value!r} (use e.g. 2025-12-06T11:00:00+05:30)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def land_page(conn: Any, settings: Settings, source: str, items: list[Any], batch_id: int,
              landed_from: str, advance: tuple[str, datetime] | None = None) -> LandingCounts:
    """One transaction: land a page's items and, when `advance` = (scope, at), move that cursor.
    A kill at any moment leaves either both or neither."""
    from loaders.landing import land_chunk

    try:
        with conn.cursor() as cursor:
            counts = land_chunk(cursor, settings, source, items, batch_id, landed_from) \
                if items else LandingCounts()
            if advance is not None:
                advance_cursor(cursor, settings, source, advance[0], advance[1], batch_id)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return counts

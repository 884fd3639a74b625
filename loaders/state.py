"""State of the scheduled loads: cursors (moved in the caller's transaction) and the advisory lock
that keeps two runs of one source apart."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg2 import sql

from loaders.landing import LandingCounts
from loaders.settings import Settings

log = logging.getLogger("leadlink.state")

LOCK_NAMESPACE = 7_310_006  # first key of pg_advisory_lock(int, int); the second is the source
DEFAULT_LOOKBACK_MINUTES = 120


class LockBusy(RuntimeError):
    """Another run of the same source holds the lock."""


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


def _source_key(source: str) -> int:
    return int.from_bytes(hashlib.sha256(source.encode()).digest()[:4], "big", signed=True)


def acquire_source_lock(conn: Any, source: str, wait: bool) -> None:
    """Session-level advisory lock for `source` on `conn` (released when the connection ends,
    also when the process is killed). Raises LockBusy unless `wait`."""
    with conn.cursor() as cursor:
        if wait:
            cursor.execute("select pg_advisory_lock(%s, %s)", (LOCK_NAMESPACE, _source_key(source)))
        else:
            cursor.execute("select pg_try_advisory_lock(%s, %s)",
                           (LOCK_NAMESPACE, _source_key(source)))
            if not cursor.fetchone()[0]:
                conn.rollback()
                raise LockBusy(f"another `leadlink load {source}` run holds the {source} lock; "
                               f"this run stops (use --wait to queue behind it)")
    conn.commit()


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


def lookback(environ: Mapping[str, str]) -> timedelta:
    value = environ.get("LEADLINK_LOOKBACK_MINUTES") or str(DEFAULT_LOOKBACK_MINUTES)
    try:
        return timedelta(minutes=float(value))
    except ValueError:
        raise ConfigError(f"LEADLINK_LOOKBACK_MINUTES must be a number of minutes, got {value!r}") from None


def window_start(since: datetime | None, saved: datetime | None, until: datetime,
                 environ: Mapping[str, str], initial_days_var: str, initial_days: float) -> datetime:
    """--since wins; else the saved cursor minus the look-back; else `initial_days` back."""
    if since is not None:
        return since
    if saved is not None:
        return saved - lookback(environ)
    value = environ.get(initial_days_var) or str(initial_days)
    try:
        return until - timedelta(days=float(value))
    except ValueError:
        raise ConfigError(f"{initial_days_var} must be a number of days, got {value!r}") from None


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

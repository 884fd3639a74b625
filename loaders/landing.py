"""Land records into the raw tables: COPY into a session buffer, then one set-based insert that
skips versions already present. Rejected items go to quarantine in the same transaction.

`land_chunk` never commits: a caller that must move a cursor in the same transaction (the API
loaders) does so, then commits. `land_items` is the commit-per-chunk convenience for files.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql

from loaders.payload_checks import MAX_RECORD_CHARS, find_unusable, readable_text, record_problem
from loaders.settings import Settings
from loaders.shapes import Item, Record, Rejected
from loaders.sources import SPECS

log = logging.getLogger("leadlink.landing")

# source -> (raw table, natural key column)
RAW_TABLES: dict[str, tuple[str, str]] = {
    spec.name: (spec.raw_table, spec.key_column) for spec in SPECS.values()}
DEFAULT_CHUNK_SIZE = 5000


@dataclass
class LandingCounts:
    seen: int = 0
    landed: int = 0
    already_present: int = 0
    quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: LandingCounts) -> None:
        self.seen += other.seen
        self.landed += other.landed
        self.already_present += other.already_present
        self.quarantined += other.quarantined
        for reason, count in other.quarantine_reasons.items():
            self.quarantine_reasons[reason] = self.quarantine_reasons.get(reason, 0) + count

    def as_dict(self) -> dict[str, int]:
        return {
            "seen": self.seen,
            "landed": self.landed,
            "already_present": self.already_present,
            "quarantined": self.quarantined,
        }


def canonical_json(payload: Any) -> str:
    """The payload as JSON text; also the basis of the version hash, so it must be deterministic:
    sorted keys, no spaces, non-ASCII as is. orjson writes exactly what json.dumps writes with
    those options, 6x faster; json.dumps takes what orjson refuses (integers beyond 64 bits, lone
    surrogates), so the same payload always gets the same text."""
    try:
        return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _storable_problem(text: str) -> str | None:
    if "\x00" in text or "\\u0000" in text:
        return "payload contains a NUL character (\\u0000), which PostgreSQL cannot store"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "payload contains an unpaired UTF-16 surrogate escape"
    return None


def _safe_text(text: str) -> str:
    return text.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")


def start_batch(cursor: Any, settings: Settings, source: str, method: str,
                detail: dict[str, Any] | None = None) -> int:
    cursor.execute(
        sql.SQL(
            "insert into {}.load_batches (source, method, detail) values (%s, %s, %s)"
            " returning batch_id"
        ).format(sql.Identifier(settings.raw_schema)),
        (source, method, json.dumps(detail or {})),
    )
    return int(cursor.fetchone()[0])


def finish_batch(cursor: Any, settings: Settings, batch_id: int, counts: LandingCounts,
                 status: str, detail: dict[str, Any] | None = None) -> None:
    cursor.execute(
        sql.SQL(
            "update {}.load_batches set finished_at = clock_timestamp(), status = %s,"
            " records_seen = %s, records_landed = %s, records_already_present = %s,"
            " records_quarantined = %s, detail = detail || %s::jsonb where batch_id = %s"
        ).format(sql.Identifier(settings.raw_schema)),
        (status, counts.seen, counts.landed, counts.already_present, counts.quarantined,
         json.dumps({**(detail or {}), "quarantine_reasons": counts.quarantine_reasons}), batch_id),
    )


@dataclass
class LandingBatch:
    """A load batch while it runs: what the caller counts and adds to its detail; `status` may be
    set to 'failed' for a partial failure that still lets the batch finish (a Meta form that
    failed while others landed)."""

    batch_id: int
    counts: LandingCounts = field(default_factory=LandingCounts)
    detail: dict[str, Any] = field(default_factory=dict)
    status: str = "succeeded"


def _record_failure(conn: psycopg2.extensions.connection, settings: Settings, batch: LandingBatch,
                    error: BaseException, url: str | None) -> None:
    detail = {**batch.detail, "error": f"{type(error).__name__}: {error}"[:500]}
    try:
        if not conn.closed:
            conn.rollback()
            with conn.cursor() as cursor:
                finish_batch(cursor, settings, batch.batch_id, batch.counts, "failed", detail)
            conn.commit()
            return
    except psycopg2.Error:
        pass
    if url is None:
        log.error("load batch %s could not be marked failed (the connection broke)", batch.batch_id)
        return
    from loaders.database import connect  # the connection broke: record it on a new one

    try:
        fresh = connect(url, "leadlink-batch")
        try:
            with fresh.cursor() as cursor:
                finish_batch(cursor, settings, batch.batch_id, batch.counts, "failed", detail)
            fresh.commit()
        finally:
            fresh.close()
    except psycopg2.Error as second:
        log.error("load batch %s could not be marked failed: %s", batch.batch_id,
                  type(second).__name__)


@contextmanager
def landing_batch(conn: psycopg2.extensions.connection, settings: Settings, source: str,
                  method: str, detail: dict[str, Any] | None = None,
                  url: str | None = None) -> Iterator[LandingBatch]:
    """The one lifecycle of a load batch: started (committed, so a crash leaves it visible as
    running), then finished with the counts, or `failed` with the error when the block raises
    (the caller's open transaction is rolled back first; the error propagates). With `url`, a
    batch whose connection broke is marked failed over a new connection."""
    with conn.cursor() as cursor:
        batch = LandingBatch(start_batch(cursor, settings, source, method, detail))
    conn.commit()
    try:
        yield batch
    except BaseException as error:
        _record_failure(conn, settings, batch, error, url)
        raise
    with conn.cursor() as cursor:
        finish_batch(cursor, settings, batch.batch_id, batch.counts, batch.status, batch.detail)
    conn.commit()


_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _copy_text_rows(cursor: Any, statement: str, rows: list[tuple[str, str, str, str]],
                    suffix: str = "") -> None:
    """COPY in PostgreSQL's text format: about 3x cheaper to build than CSV for JSON payloads
    (CSV doubles every quote). Only backslash, newline, CR and tab need escaping; canonical JSON
    holds no raw control characters, so its only escape is doubling backslashes."""
    lines = [
        "\t".join((key.translate(_TEXT_ESCAPES), shape.translate(_TEXT_ESCAPES),
                   text.replace("\\", "\\\\"), digest)) + suffix
        for key, shape, text, digest in rows
    ]
    lines.append("")
    cursor.copy_expert(statement, io.StringIO("\n".join(lines)))


def quarantine(cursor: Any, settings: Settings, source: str,
               rejected: list[tuple[str, str]], batch_id: int | None, landed_from: str) -> None:
    """Store (reason, original_text) pairs. One statement over arrays: no session state (a
    transaction pooler may hand the next statement another backend), and an empty original text
    is stored as '' (a CSV COPY would read it as null)."""
    if not rejected:
        return
    # The same bad delivery arriving again (a re-run, a sender's retry) is kept once.
    cursor.execute(
        sql.SQL(
            "insert into {}.quarantine"
            " (source, reason, original_text, original_md5, batch_id, landed_from)"
            " select %s, rejected.reason, rejected.original_text, md5(rejected.original_text),"
            " %s, %s from unnest(%s::text[], %s::text[]) as rejected (reason, original_text)"
            " on conflict (source, original_md5) do nothing"
        ).format(sql.Identifier(settings.raw_schema)),
        (source, batch_id, landed_from, [_safe_text(reason) for reason, _ in rejected],
         [_safe_text(text) for _, text in rejected]),
    )


def _land_via_buffer(cursor: Any, settings: Settings, table: str, key_column: str,
                     rows: list[tuple[str, str, str, str]], batch_id: int, landed_from: str) -> int:
    """One insert over arrays that skips versions already present (the path that is safe against
    a concurrent writer, and on an autocommit connection)."""
    cursor.execute(
        sql.SQL(
            "insert into {schema}.{table}"
            " ({key}, payload, payload_shape, payload_md5, batch_id, landed_from)"
            " select incoming.natural_key, incoming.payload::jsonb, incoming.payload_shape,"
            " incoming.payload_md5, %s, %s"
            " from unnest(%s::text[], %s::text[], %s::text[], %s::text[])"
            " as incoming (natural_key, payload_shape, payload, payload_md5)"
            " on conflict ({key}, payload_md5) do nothing"
        ).format(
            schema=sql.Identifier(settings.raw_schema),
            table=sql.Identifier(table),
            key=sql.Identifier(key_column),
        ),
        (batch_id, landed_from, [row[0] for row in rows], [row[1] for row in rows],
         [row[2] for row in rows], [row[3] for row in rows]),
    )
    return int(cursor.rowcount)


def _land_rows(cursor: Any, settings: Settings, table: str, key_column: str,
               rows: list[tuple[str, str, str, str]], batch_id: int, landed_from: str) -> int:
    """Insert the versions not yet present; returns how many were inserted.

    Fast path: drop duplicates within the chunk and versions already in the table (one indexed
    lookup over arrays), then COPY the rest straight into the raw table (no buffer round trip).
    Should a concurrent writer (the webhook receiver) land one of those versions in between, the
    COPY fails on the unique key: we roll back to a savepoint and take the buffer path, whose
    ON CONFLICT makes it harmless. An autocommit connection always takes the buffer path."""
    if cursor.connection.autocommit:
        return _land_via_buffer(cursor, settings, table, key_column, rows, batch_id, landed_from)
    unique: dict[tuple[str, str], tuple[str, str, str, str]] = {}
    for row in rows:
        unique.setdefault((row[0], row[3]), row)
    cursor.execute(
        sql.SQL(
            "select {key}, payload_md5 from {schema}.{table}"
            " where ({key}, payload_md5) in"
            " (select * from unnest(%s::text[], %s::text[]))"
        ).format(schema=sql.Identifier(settings.raw_schema), table=sql.Identifier(table),
                 key=sql.Identifier(key_column)),
        ([key for key, _ in unique], [digest for _, digest in unique]),
    )
    for present in cursor.fetchall():
        unique.pop((present[0], present[1]), None)
    if not unique:
        return 0
    suffix = f"\t{batch_id}\t{landed_from.translate(_TEXT_ESCAPES)}"
    statement = sql.SQL(
        "copy {schema}.{table} ({key}, payload_shape, payload, payload_md5, batch_id, landed_from)"
        " from stdin"
    ).format(schema=sql.Identifier(settings.raw_schema), table=sql.Identifier(table),
             key=sql.Identifier(key_column)).as_string(cursor)
    cursor.execute("savepoint landing_copy")
    try:
        _copy_text_rows(cursor, statement, list(unique.values()), suffix)
    except psycopg2.errors.UniqueViolation:
        cursor.execute("rollback to savepoint landing_copy")
        return _land_via_buffer(cursor, settings, table, key_column, list(unique.values()),
                                batch_id, landed_from)
    cursor.execute("release savepoint landing_copy")
    return len(unique)


def payload_text(payload: Any) -> tuple[str | None, str | None]:
    """(canonical text, None), or (None, why the payload cannot land as it is). orjson refuses
    what is not plain JSON (an `Unusable` marker is a str subclass), so the slow checks run only
    for the rare payloads it refuses."""
    try:
        text = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS
                            ).decode("utf-8")
    except (TypeError, orjson.JSONEncodeError):
        found = find_unusable(payload)
        if found is not None:
            path, marker = found
            return None, f"{marker.reason} at {path[:200]}"
        try:
            text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        except RecursionError:
            return None, "nested too deeply to store"
    if len(text) > MAX_RECORD_CHARS:
        return None, f"record is {len(text)} characters, over the {MAX_RECORD_CHARS} limit"
    return text, _storable_problem(text)


def _short(key: str) -> str:
    return key if len(key) <= 60 else f"{key[:40]}...({len(key)} characters)"


def land_chunk(cursor: Any, settings: Settings, source: str, items: list[Item], batch_id: int | None,
               landed_from: str) -> LandingCounts:
    """Land one chunk in the caller's transaction: each record lands or is quarantined on its own."""
    table, key_column = RAW_TABLES[source]
    counts = LandingCounts(seen=len(items))
    rows: list[tuple[str, str, str, str]] = []
    rejected: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, Rejected):
            rejected.append((item.reason, item.original_text))
            continue
        problem = record_problem(source, item.key, item.payload)
        text = None
        if problem is None:
            text, problem = payload_text(item.payload)
        if problem or text is None:
            rejected.append((f"{item.shape} {_short(item.key)}: {problem}",
                             text if text is not None else readable_text(item.payload)))
            continue
        digest = hashlib.md5(text.encode("utf-8")).hexdigest()
        rows.append((item.key, item.shape, text, digest))
    if rows:
        if batch_id is None:
            raise ValueError("landing records needs a load batch")
        counts.landed = _land_rows(cursor, settings, table, key_column, rows, batch_id, landed_from)
        counts.already_present = len(rows) - counts.landed
    quarantine(cursor, settings, source, rejected, batch_id, landed_from)
    counts.quarantined = len(rejected)
    for reason, _ in rejected:
        kind = reason_kind(reason)
        counts.quarantine_reasons[kind] = counts.quarantine_reasons.get(kind, 0) + 1
    return counts


def reason_kind(reason: str) -> str:
    """The reason without its details, for counting (`shape key: why (detail)` -> `shape: why`)."""
    kind = reason.split(" (")[0]
    head, colon, tail = kind.partition(": ")
    if colon and " " in head:
        kind = f"{head.split(' ')[0]}: {tail}"
    return re.sub(r"\d+", "N", kind)[:200]


def chunked(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def land_items(conn: psycopg2.extensions.connection, settings: Settings, source: str,
               items: Iterable[Item], batch_id: int, landed_from: str,
               chunk_size: int = DEFAULT_CHUNK_SIZE) -> LandingCounts:
    """Land any number of items, committing after each chunk (a re-run lands nothing twice)."""
    total = LandingCounts()
    for chunk in chunked(items, chunk_size):
        with conn.cursor() as cursor:
            total.add(land_chunk(cursor, settings, source, chunk, batch_id, landed_from))
        conn.commit()
    return total


__all__ = [
    "LandingBatch", "LandingCounts", "RAW_TABLES", "Record", "Rejected", "canonical_json",
    "finish_batch", "land_chunk", "land_items", "landing_batch", "payload_text", "quarantine",
    "start_batch",
]

"""Storing a delivery: one short transaction per request, committed before the sender gets 200.

Every distinct body is kept in `webhook_deliveries` (a redelivery of the same bytes only bumps its
counter). Knowlarity bodies land in `knowlarity_calls` right away, keyed and hashed exactly as
`landing.land_chunk` does (one statement instead of its chunk-sized temp-table COPY);
Meta notifications carry no answers, so each `leadgen` change is queued by leadgen_id for the
worker that fetches the lead from Graph (intake_meta). Whatever cannot be used goes to quarantine with a reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from leadlink.receiver.pool import CONNECTION_ERRORS
from loaders.database import database_message
from loaders.landing import LandingCounts, payload_text, quarantine
from loaders.payload_checks import parse_text, readable_text, record_problem
from loaders.settings import Settings
from loaders.shapes import Item, Rejected, split_payload

log = logging.getLogger("leadlink.webhooks")

LANDED_FROM = "webhook"
MAX_LEADGEN_ID_DIGITS = 32
SAVEPOINT = "savepoint intake_work"


@dataclass(frozen=True)
class LeadgenChange:
    leadgen_id: str
    page_id: str | None
    form_id: str | None
    ad_id: str | None
    adgroup_id: str | None
    value_json: str


@dataclass
class Stored:
    """What a request stored: the delivery row, whether it was new, and what came of it."""

    delivery_id: int
    new: bool
    outcome: str
    landed: int = 0
    quarantined: int = 0
    queued: list[str] = field(default_factory=list)


def body_text(raw: bytes) -> str:
    """The body as storable text: UTF-8 as is; invalid bytes and NUL escaped visibly."""
    return raw.decode("utf-8", "backslashreplace").replace("\x00", "\\u0000")


def text_key(value: Any) -> str | None:
    """Ids arrive as JSON strings or numbers; keep the exact digits, never go through a float."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def raw_table(settings: Settings, name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(settings.raw_schema), sql.Identifier(name))


def record_delivery(cursor: Any, settings: Settings, source: str, method: str, raw: bytes,
                     content_type: str | None, outcome: str) -> tuple[int, bool, str]:
    """Insert the delivery, or count a redelivery of the same bytes. (id, is_new, outcome)."""
    cursor.execute(
        sql.SQL(
            "insert into {} as delivery (source, method, body_sha256, body_text, content_type,"
            " outcome) values (%s, %s, %s, %s, %s, %s)"
            " on conflict (source, body_sha256) do update"
            " set times_received = delivery.times_received + 1,"
            " last_received_at = clock_timestamp()"
            " returning delivery_id, (xmax = 0) as inserted, outcome"
        ).format(raw_table(settings, "webhook_deliveries")),
        (source, method, hashlib.sha256(raw).hexdigest(), body_text(raw), content_type, outcome),
    )
    delivery_id, inserted, stored_outcome = cursor.fetchone()
    return int(delivery_id), bool(inserted), stored_outcome


def describe_error(error: BaseException) -> str:
    """A database error for the log: loaders.database.database_message (class, SQLSTATE, the
    primary message with phone numbers masked; never PostgreSQL's DETAIL / CONTEXT lines, which
    quote the values)."""
    return database_message(error)[:300]


def webhook_batch(cursor: Any, settings: Settings, source: str, delivery_id: int, seen: int,
                   quarantined: int) -> int:
    """The load batch of one delivery, finished in the same transaction (nothing stays running),
    linked from the delivery row."""
    cursor.execute(
        sql.SQL(
            "with batch as ("
            " insert into {schema}.load_batches (source, method, detail, status, finished_at,"
            " records_seen, records_quarantined)"
            " values (%s, 'webhook', %s::jsonb, 'succeeded', clock_timestamp(), %s, %s)"
            " returning batch_id),"
            " linked as (update {schema}.webhook_deliveries set batch_id = (select batch_id"
            " from batch) where delivery_id = %s returning 1)"
            " select batch_id, (select count(*) from linked) from batch"
        ).format(schema=sql.Identifier(settings.raw_schema)),
        (source, json.dumps({"delivery_id": delivery_id}), seen, quarantined, delivery_id),
    )
    return int(cursor.fetchone()[0])


def _set_outcome(cursor: Any, settings: Settings, delivery_id: int, outcome: str) -> None:
    cursor.execute(
        sql.SQL("update {} set outcome = %s where delivery_id = %s").format(
            raw_table(settings, "webhook_deliveries")),
        (outcome, delivery_id),
    )


def store_safely(conn: psycopg2.extensions.connection, settings: Settings, source: str,
                  delivery_id: int, raw: bytes, work: Callable[[Any], Stored],
                  fallback: Stored) -> Stored:
    """Run `work` after a savepoint; when the database refuses what it writes (a value no check
    foresaw), undo just that and quarantine the whole body instead: the delivery row stays, the
    sender gets 200 and stops retrying something that would fail again."""
    with conn.cursor() as cursor:
        try:
            cursor.execute(SAVEPOINT)
            return work(cursor)
        except CONNECTION_ERRORS:
            raise
        except psycopg2.Error as error:
            cursor.execute("rollback to savepoint intake_work")
            reason = f"webhook body could not be landed ({describe_error(error)})"
            log.error("%s delivery %s quarantined: %s", source, delivery_id, describe_error(error))
            batch_id = webhook_batch(cursor, settings, source, delivery_id, 1, 1)
            quarantine(cursor, settings, source, [(reason, body_text(raw))], batch_id, LANDED_FROM)
            _set_outcome(cursor, settings, delivery_id, "quarantined")
            fallback.outcome = "quarantined"
            fallback.quarantined = 1
            return fallback


# --- Knowlarity --------------------------------------------------------------------------------
def strip_form_token(raw: bytes) -> bytes:
    """A form-encoded body without its `token=` field (the hook's secret is never stored)."""
    pairs = parse_qsl(raw.decode("utf-8", "surrogateescape"), keep_blank_values=True)
    if not any(name == "token" for name, _ in pairs):
        return raw
    kept = [(name, value) for name, value in pairs if name != "token"]
    return urlencode(kept, errors="surrogateescape").encode("utf-8", "surrogateescape")


def is_form(content_type: str | None) -> bool:
    return (content_type or "").lower().startswith("application/x-www-form-urlencoded")


def knowlarity_items(raw: bytes, content_type: str | None) -> list[Item]:
    """Parse a POSTed body: JSON (wrapped, flat, SR hook CDR, live event, a list, JSON Lines or
    server-sent `data:` lines) or a form-encoded hook. Never raises: whatever cannot be read is
    one Rejected with the reason."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return [Rejected(f"Knowlarity webhook body is not UTF-8 ({error.reason} at byte "
                         f"{error.start})", body_text(raw))]
    try:
        if is_form(content_type):
            fields = dict(parse_qsl(text, keep_blank_values=True))
            fields.pop("token", None)
            return list(split_payload("knowlarity", fields))
        items = list(parse_text("knowlarity", text))
    except (RecursionError, ValueError) as error:  # a shape check that met a pathological body
        return [Rejected(f"Knowlarity webhook body could not be read ({type(error).__name__})",
                         body_text(raw))]
    if not items:
        return [Rejected("empty Knowlarity webhook body", body_text(raw))]
    return items


def knowlarity_query_items(params: Mapping[str, str]) -> list[Item]:
    """A GET hook: the same names as query parameters (the token already removed)."""
    if not params:
        return [Rejected("Knowlarity GET hook without parameters", "{}")]
    return list(split_payload("knowlarity", dict(params)))


def _landable_rows(items: list[Item]) -> tuple[list[tuple[str, str, str, str]], list[Rejected]]:
    """(natural key, payload text, shape, md5) exactly as `landing.land_chunk` computes them (the
    same checks, the same text), so a call landed by a webhook and by the API pull dedupes to one
    version."""
    rows: list[tuple[str, str, str, str]] = []
    rejected: list[Rejected] = []
    for item in items:
        if isinstance(item, Rejected):
            rejected.append(item)
            continue
        problem = record_problem("knowlarity", item.key, item.payload)
        text = None
        if problem is None:
            text, problem = payload_text(item.payload)
        if problem or text is None:
            rejected.append(Rejected(f"{item.shape} {item.key[:60]}: {problem}",
                                     text if text is not None else readable_text(item.payload)))
            continue
        rows.append((item.key, text, item.shape, hashlib.md5(text.encode("utf-8")).hexdigest()))
    return rows, rejected


def _land_knowlarity_rows(cursor: Any, settings: Settings, delivery_id: int,
                          rows: list[tuple[str, str, str, str]], quarantined: int) -> tuple[int, int]:
    """The request path's landing: one statement creates the load batch, inserts the calls (the
    same `on conflict (call_uuid, payload_md5) do nothing` as land_chunk, without its COPY, which
    is built for chunks of thousands) and links the delivery. (batch_id, landed)."""
    schema = sql.Identifier(settings.raw_schema)
    statement = sql.SQL(
        "with batch as ("
        " insert into {schema}.load_batches (source, method, detail, status, finished_at,"
        " records_seen, records_quarantined)"
        " values ('knowlarity', 'webhook', %s::jsonb, 'succeeded', clock_timestamp(), %s, %s)"
        " returning batch_id),"
        " incoming (natural_key, payload, payload_shape, payload_md5) as (values {rows}),"
        " landed as ("
        " insert into {schema}.knowlarity_calls"
        " (call_uuid, payload, payload_shape, payload_md5, batch_id, landed_from)"
        " select incoming.natural_key, incoming.payload::jsonb, incoming.payload_shape,"
        " incoming.payload_md5, batch.batch_id, %s from incoming cross join batch"
        " on conflict (call_uuid, payload_md5) do nothing returning 1),"
        " linked as ("
        " update {schema}.webhook_deliveries set batch_id = (select batch_id from batch)"
        " where delivery_id = %s returning 1)"
        " select batch.batch_id, (select count(*) from landed), (select count(*) from linked)"
        " from batch"
    ).format(schema=schema, rows=sql.SQL(", ").join(
        sql.SQL("(%s, %s, %s, %s)") for _ in rows))
    params: list[Any] = [json.dumps({"delivery_id": delivery_id}), len(rows) + quarantined,
                         quarantined]
    for row in rows:
        params.extend(row)
    params.extend([LANDED_FROM, delivery_id])
    cursor.execute(statement, params)
    batch_id, landed, _ = cursor.fetchone()
    cursor.execute(
        sql.SQL("update {}.load_batches set records_landed = %s, records_already_present = %s"
                " where batch_id = %s").format(schema),
        (landed, len(rows) - landed, batch_id),
    )
    return int(batch_id), int(landed)


def store_knowlarity(conn: psycopg2.extensions.connection, settings: Settings, raw: bytes,
                     items: list[Item] | None, method: str, content_type: str | None) -> Stored:
    """Store the delivery first; then land each call or quarantine it on its own (with the
    delivery's batch id). `items` None: parse `raw` (a POST body)."""
    if items is None and is_form(content_type):
        raw = strip_form_token(raw)
    if items is None:
        items = knowlarity_items(raw, content_type)
    rows, rejected = _landable_rows(items)
    outcome = "landed" if rows else "quarantined"
    with conn.cursor() as cursor:
        delivery_id, new, stored_outcome = record_delivery(
            cursor, settings, "knowlarity", method, raw, content_type, outcome)
    if not new:
        conn.commit()
        return Stored(delivery_id, False, stored_outcome)

    def work(cursor: Any) -> Stored:
        landed = 0
        if rows:
            batch_id, landed = _land_knowlarity_rows(cursor, settings, delivery_id, rows,
                                                     len(rejected))
        else:
            batch_id = webhook_batch(cursor, settings, "knowlarity", delivery_id, len(rejected),
                                      len(rejected))
        quarantine(cursor, settings, "knowlarity",
                   [(item.reason, item.original_text) for item in rejected], batch_id, LANDED_FROM)
        return Stored(delivery_id, True, outcome, landed=landed, quarantined=len(rejected))

    stored = store_safely(conn, settings, "knowlarity", delivery_id, raw, work,
                           Stored(delivery_id, True, outcome))
    conn.commit()
    return stored


def database_answers(conn: psycopg2.extensions.connection, settings: Settings) -> bool:
    with conn.cursor() as cursor:
        cursor.execute("select 1")
        ok = cursor.fetchone() == (1,)
    conn.rollback()
    return ok


__all__ = [
    "LANDED_FROM", "LandingCounts", "LeadgenChange", "Stored", "body_text", "database_answers",
    "describe_error", "knowlarity_items", "knowlarity_query_items", "store_knowlarity",
    "strip_form_token",
]

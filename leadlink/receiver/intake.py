"""Storing a delivery: one short transaction per request, committed before the sender gets 200.

Every distinct body is kept in `webhook_deliveries` (a redelivery of the same bytes only bumps its
counter). Knowlarity bodies land in `knowlarity_calls` right away, keyed and hashed exactly as
`landing.land_chunk` does (one statement instead of its chunk-sized temp-table COPY);
Meta notifications carry no answers, so each `leadgen` change is queued by leadgen_id for the
worker that fetches the lead from Graph. Whatever cannot be used goes to quarantine with a reason.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import psycopg2.extensions
from psycopg2 import sql
from psycopg2.extras import execute_values

from loaders.landing import (
    LandingCounts,
    _storable_problem,  # the same storability rule as land_chunk
    canonical_json,
    quarantine,
)
from loaders.settings import Settings
from loaders.shapes import Item, Rejected, parse_text, split_payload

LANDED_FROM = "webhook"


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


def _text_key(value: Any) -> str | None:
    """Ids arrive as JSON strings or numbers; keep the exact digits, never go through a float."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _table(settings: Settings, name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(settings.raw_schema), sql.Identifier(name))


def _record_delivery(cursor: Any, settings: Settings, source: str, method: str, raw: bytes,
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
        ).format(_table(settings, "webhook_deliveries")),
        (source, method, hashlib.sha256(raw).hexdigest(), body_text(raw), content_type, outcome),
    )
    delivery_id, inserted, stored_outcome = cursor.fetchone()
    return int(delivery_id), bool(inserted), stored_outcome


def _set_batch(cursor: Any, settings: Settings, delivery_id: int, batch_id: int) -> None:
    cursor.execute(
        sql.SQL("update {} set batch_id = %s where delivery_id = %s").format(
            _table(settings, "webhook_deliveries")),
        (batch_id, delivery_id),
    )


# --- Knowlarity --------------------------------------------------------------------------------
def knowlarity_items(raw: bytes, content_type: str | None) -> list[Item]:
    """Parse a POSTed body: JSON (wrapped, flat, SR hook CDR, live event, a list, JSON Lines or
    server-sent `data:` lines) or a form-encoded hook."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return [Rejected(f"Knowlarity webhook body is not UTF-8 ({error.reason} at byte "
                         f"{error.start})", body_text(raw))]
    if (content_type or "").lower().startswith("application/x-www-form-urlencoded"):
        return list(split_payload("knowlarity", dict(parse_qsl(text, keep_blank_values=True))))
    items = list(parse_text("knowlarity", text))
    if not items:
        return [Rejected("empty Knowlarity webhook body", text)]
    return items


def knowlarity_query_items(params: Mapping[str, str]) -> list[Item]:
    """A GET hook: the same names as query parameters (the token already removed)."""
    if not params:
        return [Rejected("Knowlarity GET hook without parameters", "")]
    return list(split_payload("knowlarity", dict(params)))


def _landable_rows(items: list[Item]) -> tuple[list[tuple[str, str, str, str]], list[Rejected]]:
    """(natural key, payload text, shape, md5) exactly as `landing.land_chunk` computes them, so a
    call landed by a webhook and by the API pull dedupes to one version."""
    rows: list[tuple[str, str, str, str]] = []
    rejected: list[Rejected] = []
    for item in items:
        if isinstance(item, Rejected):
            rejected.append(item)
            continue
        text = canonical_json(item.payload)
        problem = _storable_problem(text)
        if problem:
            rejected.append(Rejected(f"{item.shape} {item.key}: {problem}", text))
            continue
        rows.append((item.key, text, item.shape, hashlib.md5(text.encode("utf-8")).hexdigest()))
    return rows, rejected


def _land_knowlarity_rows(cursor: Any, settings: Settings, delivery_id: int,
                          rows: list[tuple[str, str, str, str]], quarantined: int) -> tuple[int, int]:
    """The request path's landing: one statement creates the load batch, inserts the calls (the
    same `on conflict (call_uuid, payload_md5) do nothing` as land_chunk, without its temp-table
    COPY, which is built for chunks of thousands) and links the delivery. (batch_id, landed)."""
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
                     items: list[Item], method: str, content_type: str | None) -> Stored:
    rows, rejected = _landable_rows(items)
    outcome = "landed" if rows else "quarantined"
    with conn.cursor() as cursor:
        delivery_id, new, stored_outcome = _record_delivery(
            cursor, settings, "knowlarity", method, raw, content_type, outcome)
        if not new:
            conn.commit()
            return Stored(delivery_id, False, stored_outcome)
        landed = 0
        if rows:
            _, landed = _land_knowlarity_rows(cursor, settings, delivery_id, rows, len(rejected))
        quarantine(cursor, settings, "knowlarity",
                   [(item.reason, item.original_text) for item in rejected], None, LANDED_FROM)
    conn.commit()
    return Stored(delivery_id, True, outcome, landed=landed, quarantined=len(rejected))


# --- Meta ----------------------------------------------------------------------------------------
def meta_changes(raw: bytes) -> tuple[list[LeadgenChange], list[Rejected], bool]:
    """(leadgen changes, rejected pieces, is_notification) from a verified notification body."""
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        detail = error.msg if isinstance(error, json.JSONDecodeError) else error.reason
        return [], [Rejected(f"signed Meta webhook body is not valid JSON ({detail})",
                             body_text(raw))], False
    if not isinstance(document, dict) or not isinstance(document.get("entry"), list):
        return [], [Rejected("signed Meta webhook body is not a notification (no entry list)",
                             body_text(raw))], False
    changes: list[LeadgenChange] = []
    rejected: list[Rejected] = []
    seen: set[str] = set()
    for entry in document["entry"]:
        entry_changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(entry_changes, list):
            continue
        for change in entry_changes:
            if not isinstance(change, dict) or change.get("field") != "leadgen":
                continue
            value = change.get("value")
            leadgen_id = _text_key(value.get("leadgen_id")) if isinstance(value, dict) else None
            if leadgen_id is None or not isinstance(value, dict):
                rejected.append(Rejected("leadgen change without a usable leadgen_id",
                                         json.dumps(change, ensure_ascii=False)))
                continue
            if leadgen_id in seen:
                continue
            seen.add(leadgen_id)
            changes.append(LeadgenChange(
                leadgen_id,
                _text_key(value.get("page_id")) or _text_key(entry.get("id")),
                _text_key(value.get("form_id")),
                _text_key(value.get("ad_id")),
                _text_key(value.get("adgroup_id")),
                json.dumps(value, ensure_ascii=False),
            ))
    return changes, rejected, True


def store_meta(conn: psycopg2.extensions.connection, settings: Settings, raw: bytes,
               content_type: str | None) -> Stored:
    changes, rejected, _ = meta_changes(raw)
    outcome = "queued" if changes else ("quarantined" if rejected else "ignored")
    with conn.cursor() as cursor:
        delivery_id, new, stored_outcome = _record_delivery(
            cursor, settings, "meta", "POST", raw, content_type, outcome)
        if not new:
            conn.commit()
            return Stored(delivery_id, False, stored_outcome)
        queued: list[str] = []
        if changes:
            rows = execute_values(
                cursor,
                sql.SQL(
                    "insert into {} (leadgen_id, page_id, form_id, ad_id, adgroup_id,"
                    " change_value, delivery_id) values %s"
                    " on conflict (leadgen_id) do nothing returning leadgen_id"
                ).format(_table(settings, "meta_leadgen_queue")).as_string(cursor),
                [(c.leadgen_id, c.page_id, c.form_id, c.ad_id, c.adgroup_id, c.value_json,
                  delivery_id) for c in changes],
                template="(%s, %s, %s, %s, %s, %s::jsonb, %s)",
                fetch=True,
            )
            queued = [row[0] for row in rows]
        quarantine(cursor, settings, "meta",
                   [(item.reason, item.original_text) for item in rejected], None, LANDED_FROM)
    conn.commit()
    return Stored(delivery_id, True, outcome, quarantined=len(rejected), queued=queued)


def database_answers(conn: psycopg2.extensions.connection, settings: Settings) -> bool:
    with conn.cursor() as cursor:
        cursor.execute("select 1")
        ok = cursor.fetchone() == (1,)
    conn.rollback()
    return ok


__all__ = [
    "LANDED_FROM", "LandingCounts", "LeadgenChange", "Stored", "body_text", "database_answers",
    "knowlarity_items", "knowlarity_query_items", "meta_changes", "store_knowlarity", "store_meta",
]

"""Storing a Meta `leadgen` notification: the delivery first, then each change queued by leadgen_id
(for the worker that fetches the lead from Graph) or quarantined on its own with its reason."""

from __future__ import annotations

from typing import Any

import psycopg2.extensions
from psycopg2 import sql
from psycopg2.extras import execute_values

from leadlink.receiver.intake import (
    LANDED_FROM,
    MAX_LEADGEN_ID_DIGITS,
    LeadgenChange,
    Stored,
    body_text,
    raw_table,
    record_delivery,
    store_safely,
    text_key,
    webhook_batch,
)
from loaders.landing import payload_text, quarantine
from loaders.payload_checks import JsonProblem, load_json, readable_text
from loaders.settings import Settings
from loaders.shapes import Rejected


def _change_rejected(reason: str, change: Any) -> Rejected:
    return Rejected(reason, readable_text(change))


def _leadgen_change(entry: dict[str, Any], change: Any) -> LeadgenChange | Rejected | None:
    """One change of a notification: queued, rejected with its reason, or not a leadgen change."""
    if not isinstance(change, dict) or change.get("field") != "leadgen":
        return None
    value = change.get("value")
    if not isinstance(value, dict):
        return _change_rejected("leadgen change without a value object", change)
    leadgen_id = text_key(value.get("leadgen_id"))
    if leadgen_id is None:
        return _change_rejected("leadgen change without a usable leadgen_id", change)
    if not (leadgen_id.isascii() and leadgen_id.isdigit()
            and len(leadgen_id) <= MAX_LEADGEN_ID_DIGITS):
        return _change_rejected(f"leadgen_id is not all digits (at most {MAX_LEADGEN_ID_DIGITS})"
                                "; never sent to Graph", change)
    value_json, problem = payload_text(value)
    if problem or value_json is None:
        return _change_rejected(f"leadgen change {leadgen_id}: {problem}", change)
    ids = [text_key(value.get(name)) for name in ("page_id", "form_id", "ad_id", "adgroup_id")]
    too_long = [text for text in ids if text is not None and len(text) > MAX_LEADGEN_ID_DIGITS]
    if too_long:
        return _change_rejected(f"leadgen change {leadgen_id}: an id over "
                                f"{MAX_LEADGEN_ID_DIGITS} characters", change)
    return LeadgenChange(leadgen_id, ids[0] or text_key(entry.get("id")), ids[1], ids[2], ids[3],
                         value_json)


def meta_changes(raw: bytes) -> tuple[list[LeadgenChange], list[Rejected], bool]:
    """(leadgen changes, rejected pieces, is_notification) from a verified notification body.
    Never raises; each change is queued or rejected on its own."""
    try:
        document = load_json(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, JsonProblem) as error:
        detail = str(error) if isinstance(error, JsonProblem) else f"not UTF-8: {error.reason}"
        return [], [Rejected(f"signed Meta webhook body is not valid JSON ({detail})",
                             body_text(raw))], False
    if not isinstance(document, dict) or not isinstance(document.get("entry"), list):
        return [], [Rejected("signed Meta webhook body is not a notification (no entry list)",
                             body_text(raw))], False
    changes: list[LeadgenChange] = []
    rejected: list[Rejected] = []
    seen: set[str] = set()
    for entry in document["entry"]:
        if not isinstance(entry, dict):
            rejected.append(_change_rejected("notification entry is not an object", entry))
            continue
        entry_changes = entry.get("changes")
        if not isinstance(entry_changes, list):
            continue
        for change in entry_changes:
            result = _leadgen_change(entry, change)
            if isinstance(result, Rejected):
                rejected.append(result)
            elif result is not None and result.leadgen_id not in seen:
                seen.add(result.leadgen_id)
                changes.append(result)
    return changes, rejected, True


def store_meta(conn: psycopg2.extensions.connection, settings: Settings, raw: bytes,
               content_type: str | None) -> Stored:
    changes, rejected, _ = meta_changes(raw)
    outcome = "queued" if changes else ("quarantined" if rejected else "ignored")
    with conn.cursor() as cursor:
        delivery_id, new, stored_outcome = record_delivery(
            cursor, settings, "meta", "POST", raw, content_type, outcome)
    if not new:
        conn.commit()
        return Stored(delivery_id, False, stored_outcome)

    def work(cursor: Any) -> Stored:
        queued: list[str] = []
        if changes:
            rows = execute_values(
                cursor,
                sql.SQL(
                    "insert into {} (leadgen_id, page_id, form_id, ad_id, adgroup_id,"
                    " change_value, delivery_id) values %s"
                    " on conflict (leadgen_id) do nothing returning leadgen_id"
                ).format(raw_table(settings, "meta_leadgen_queue")).as_string(cursor),
                [(c.leadgen_id, c.page_id, c.form_id, c.ad_id, c.adgroup_id, c.value_json,
                  delivery_id) for c in changes],
                template="(%s, %s, %s, %s, %s, %s::jsonb, %s)",
                fetch=True,
            )
            queued = [row[0] for row in rows]
        if rejected:
            batch_id = webhook_batch(cursor, settings, "meta", delivery_id,
                                      len(changes) + len(rejected), len(rejected))
            quarantine(cursor, settings, "meta",
                       [(item.reason, item.original_text) for item in rejected], batch_id,
                       LANDED_FROM)
        return Stored(delivery_id, True, outcome, quarantined=len(rejected), queued=queued)

    stored = store_safely(conn, settings, "meta", delivery_id, raw, work,
                           Stored(delivery_id, True, outcome))
    conn.commit()
    return stored

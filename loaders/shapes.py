"""Recognise the payload shapes Knowlarity and Meta deliver and split them into keyed records.

Nothing here changes a payload: a record is the object exactly as delivered (a page is split into
its objects, a webhook body is kept whole). Business meaning is for dbt.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from loaders.sources import Source

__all__ = ["Item", "Record", "Rejected", "Source", "parse_lines", "parse_text", "split_payload"]


@dataclass(frozen=True)
class Record:
    """One record to land: its natural key, the shape it came in, and the payload."""

    key: str
    shape: str
    payload: Any


@dataclass(frozen=True)
class Rejected:
    """Something that cannot be landed as a record, with the reason and the original text."""

    reason: str
    original_text: str


Item = Record | Rejected


def _as_key(value: Any) -> str | None:
    """Natural keys arrive as strings, sometimes as JSON numbers; never via float."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _keyed(key_value: Any, shape: str, payload: Any, missing_reason: str) -> Item:
    key = _as_key(key_value)
    if key is None:
        return Rejected(missing_reason, _dump(payload))
    return Record(key, shape, payload)


def _knowlarity_object(body: dict[str, Any]) -> Item:
    if isinstance(body.get("data"), dict) and ("event" in body or "timestamp" in body):
        inner = body["data"]
        return _keyed(
            inner.get("uuid", inner.get("callid")), "webhook_wrapped", body,
            "wrapped Knowlarity webhook without data.uuid or data.callid",
        )
    if "callid" in body and "uuid" not in body:
        return _keyed(body["callid"], "sr_hook_cdr", body, "SR hook body with an empty callid")
    if str(body.get("type", "")).upper() == "CDR":
        return _keyed(body.get("uuid"), "live_cdr", body, "live-stream CDR without uuid")
    if "event_type" in body:
        return _keyed(body.get("uuid"), "live_event", body, "live-stream event without uuid")
    call_keys = {"customer_number", "caller_id", "start_time", "knowlarity_number", "call_duration"}
    if "uuid" in body or call_keys & body.keys():
        return _keyed(body.get("uuid"), "calllog", body, "Knowlarity call without uuid")
    return Rejected(
        f"unrecognised Knowlarity shape (keys: {', '.join(sorted(body)[:12]) or 'none'})",
        _dump(body),
    )


def _meta_object(body: dict[str, Any]) -> Iterator[Item]:
    if isinstance(body.get("error"), dict):
        yield Rejected("Graph API error response, not a lead", _dump(body))
    elif body.get("object") == "page" and isinstance(body.get("entry"), list):
        yield Rejected(
            "leadgen webhook notification: it carries no answers; deliver it to "
            "POST /webhooks/meta so the lead is fetched from Graph",
            _dump(body),
        )
    elif "field_data" in body or "created_time" in body or set(body) == {"id"}:
        yield _keyed(body.get("id"), "graph_lead", body, "Meta lead without id")
    else:
        yield Rejected(
            f"unrecognised Meta shape (keys: {', '.join(sorted(body)[:12]) or 'none'})", _dump(body)
        )


def split_payload(source: Source, document: Any) -> Iterator[Item]:
    """Split one parsed JSON document (a page, a single body, or a list of them) into items."""
    if isinstance(document, list):
        for element in document:
            yield from split_payload(source, element)
        return
    if not isinstance(document, dict):
        yield Rejected(f"expected a JSON object, got {type(document).__name__}", _dump(document))
        return
    if source == "knowlarity":
        if isinstance(document.get("objects"), list):
            for call in document["objects"]:
                if isinstance(call, dict):
                    yield _keyed(call.get("uuid"), "calllog", call, "Knowlarity call without uuid")
                else:
                    yield Rejected("call-log page entry is not an object", _dump(call))
        else:
            yield _knowlarity_object(document)
    else:
        if isinstance(document.get("data"), list):
            for lead in document["data"]:
                if isinstance(lead, dict):
                    yield _keyed(lead.get("id"), "graph_lead", lead, "Meta lead without id")
                else:
                    yield Rejected("leads page entry is not an object", _dump(lead))
        else:
            yield from _meta_object(document)


def parse_text(source: Source, text: str) -> Iterator[Item]:
    """A file's text: one JSON document, or JSON Lines (server-sent `data:` lines accepted)."""
    stripped = text.strip()
    if not stripped:
        return
    try:
        document = json.loads(stripped)
    except json.JSONDecodeError:
        yield from parse_lines(source, stripped.splitlines())
        return
    yield from split_payload(source, document)


def parse_lines(source: Source, lines: Iterable[str]) -> Iterator[Item]:
    for number, line in enumerate(lines, start=1):
        body = line.strip()
        if body.startswith("data:"):
            body = body[len("data:"):].strip()
        if not body or body.startswith((":", "event:", "id:")):
            continue
        try:
            document = json.loads(body)
        except json.JSONDecodeError as error:
            yield Rejected(f"not valid JSON (line {number}: {error.msg} at column {error.colno})", line)
            continue
        yield from split_payload(source, document)

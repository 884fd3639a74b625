"""What a record must satisfy before it lands, and the one JSON reader every entry point uses.

The rule: a value no model can use is refused here, with a reason, rather than landed and left to
break a build later (or silently changed on the way in). The limits are in docs/architecture.md,
"Limits".

`load_json` never turns a number into something else: NaN, Infinity, a number beyond a double
(1e400, which the standard reader makes `inf` and a serialiser then writes as null), a number too
small to be anything but rounded to 0, and an integer with more digits than Python converts
(4300) are kept as `Unusable` markers, so the record that holds one is quarantined on its own while
the other records of the same page or body land. A document nested deeper than the reader can
follow is a `JsonProblem`, like a syntax error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from loaders.shapes import Item, Rejected, Source, split_payload

MAX_KEY_CHARS = 128          # natural keys are indexed in the raw tables and the marts
MAX_PHONE_CHARS = 64         # phone strings are indexed by int_phone_numbers (staging caps them too)
MAX_RECORD_CHARS = 1024 * 1024  # one record's canonical JSON; the webhook body limit is the same

# The Knowlarity fields whose text becomes a phone string in int_phone_numbers (at the top level,
# or inside `data` of a wrapped webhook).
KNOWLARITY_PHONE_FIELDS = ("customer_number", "caller_id", "caller", "knowlarity_number",
                           "dispnumber")
_DIGITS = re.compile(r"[0-9]+")


class JsonProblem(ValueError):
    """The text is not a JSON document leadlink can read (syntax, or nesting too deep)."""


class Unusable(str):
    """A JSON value that cannot be kept exactly (its literal text is the string's value)."""

    reason: str

    def __new__(cls, literal: str, reason: str) -> Unusable:
        marker = super().__new__(cls, literal)
        marker.reason = reason
        return marker


def _constant(literal: str) -> Unusable:
    return Unusable(literal, f"{literal} is not a JSON number")


def _float(literal: str) -> float | Unusable:
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        return Unusable(literal, f"number {literal[:40]} is beyond a double's range")
    if value == 0.0 and any(char in "123456789" for char in literal.split("e")[0].split("E")[0]):
        return Unusable(literal, f"number {literal[:40]} is too small to keep (it would become 0)")
    return value


def _int(literal: str) -> int | Unusable:
    if len(literal.lstrip("-")) > 4000:
        return Unusable(literal, f"integer of {len(literal.lstrip('-'))} digits")
    return int(literal)


# built once: json.loads with hooks would build a decoder per call (a third of the parse time)
_DECODER = json.JSONDecoder(parse_constant=_constant, parse_float=_float)
_DECODER_WITH_INT_LIMIT = json.JSONDecoder(parse_constant=_constant, parse_float=_float,
                                           parse_int=_int)


def load_json(text: str) -> Any:
    """Parse one JSON document; values that cannot be kept exactly become `Unusable` markers.
    Raises JsonProblem (a ValueError) for what is not a readable document."""
    try:
        try:
            return _DECODER.decode(text)
        except json.JSONDecodeError:
            raise
        except ValueError:
            # an integer over Python's conversion limit; parse again, marking it instead
            return _DECODER_WITH_INT_LIMIT.decode(text)
    except json.JSONDecodeError as error:
        raise JsonProblem(f"not valid JSON ({error.msg} at line {error.lineno} column "
                          f"{error.colno})") from None
    except RecursionError:
        raise JsonProblem("not valid JSON for leadlink (nested too deeply to read)") from None


def find_unusable(value: Any) -> tuple[str, Unusable] | None:
    """The first Unusable marker in a parsed value, with its path (iterative: no depth limit)."""
    stack: list[tuple[str, Any]] = [("$", value)]
    while stack:
        path, current = stack.pop()
        if isinstance(current, Unusable):
            return path, current
        if isinstance(current, dict):
            stack.extend((f"{path}.{key}", child) for key, child in reversed(current.items()))
        elif isinstance(current, list):
            stack.extend((f"{path}[{index}]", child)
                         for index, child in reversed(list(enumerate(current))))
    return None


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float):
        return f"a number with a fraction or exponent ({value!r})"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _phone_problem(field: str, value: Any) -> str | None:
    if value is None or isinstance(value, Unusable):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return f"{field} is {_type_name(value)}, expected text"
    text = value.strip() if isinstance(value, str) else str(value)
    if len(text) > MAX_PHONE_CHARS:
        return f"{field} is {len(text)} characters, over the {MAX_PHONE_CHARS}-character phone limit"
    return None


def _knowlarity_problem(payload: dict[str, Any]) -> str | None:
    bodies = [payload]
    if isinstance(payload.get("data"), dict):
        bodies.append(payload["data"])
    for body in bodies:
        for field in KNOWLARITY_PHONE_FIELDS:
            problem = _phone_problem(field, body.get(field))
            if problem:
                return problem
    return None


def _meta_problem(key: str, payload: dict[str, Any]) -> str | None:
    if not _DIGITS.fullmatch(key):
        return "Meta lead id is not all digits"
    created = payload.get("created_time")
    if created is not None and (isinstance(created, bool) or not isinstance(created, str | int)):
        return f"created_time is {_type_name(created)}, expected text or unix seconds"
    answers = payload.get("field_data")
    if answers is None:
        return None
    if not isinstance(answers, list):
        return f"field_data is {_type_name(answers)}, expected an array"
    for index, answer in enumerate(answers):
        if not isinstance(answer, dict):
            return f"field_data[{index}] is {_type_name(answer)}, expected an object"
        values = answer.get("values")
        if values is None:
            continue
        if not isinstance(values, list):
            return f"field_data[{index}].values is {_type_name(values)}, expected an array"
        for value in values:
            if isinstance(value, bool) or not isinstance(value, str | int | type(None)):
                return f"field_data[{index}].values holds {_type_name(value)}, expected text"
    return None


def record_problem(source: str, key: str, payload: Any) -> str | None:
    """Why this keyed record must not land, or None. The text of the record is checked later."""
    if len(key) > MAX_KEY_CHARS:
        return f"natural key is {len(key)} characters, over the {MAX_KEY_CHARS}-character limit"
    if not isinstance(payload, dict):
        return f"record is {_type_name(payload)}, expected an object"
    if source == "knowlarity":
        return _knowlarity_problem(payload)
    if source == "meta":
        return _meta_problem(key, payload)
    return None


def readable_text(payload: Any) -> str:
    """A record as text for quarantine, whatever it holds (markers show as their literal text)."""
    try:
        return json.dumps(payload, ensure_ascii=False, default=str)
    except (RecursionError, ValueError):
        return "<a record nested too deeply to show>"



def _line_body(line: str) -> str | None:
    """The JSON of one line (server-sent `data:` lines accepted), or None for a line to skip."""
    body = line.strip()
    if body.startswith("data:"):
        body = body[len("data:"):].strip()
    if not body or body.startswith((":", "event:", "id:", "retry:")):
        return None
    return body


def split_safely(source: Source, document: Any, original: str) -> Iterator[Item]:
    """shapes.split_payload, with a document of lists nested too deeply to walk rejected whole."""
    try:
        yield from split_payload(source, document)
    except RecursionError:
        yield Rejected("not valid JSON for leadlink (nested too deeply to read)", original)


def parse_line(source: Source, number: int, line: str) -> Iterator[Item]:
    """One line of JSON Lines / server-sent events: its records, or one Rejected."""
    body = _line_body(line)
    if body is None:
        return
    try:
        document = load_json(body)
    except JsonProblem as error:
        detail = str(error).removeprefix("not valid JSON (").rstrip(")")
        yield Rejected(f"not valid JSON (line {number}: {detail})", line.rstrip("\r\n"))
        return
    yield from split_safely(source, document, line.rstrip("\r\n"))


def parse_text(source: Source, text: str) -> Iterator[Item]:
    """A body's text: one JSON document, else JSON Lines / `data:` lines, each line on its own."""
    stripped = text.strip()
    if not stripped:
        return
    try:
        document = load_json(stripped)
    except JsonProblem:
        for number, line in enumerate(stripped.splitlines(), start=1):
            yield from parse_line(source, number, line)
        return
    yield from split_safely(source, document, stripped)

"""Logging set-up (text or JSON lines) and masking of personal data in log output."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

_DIGIT = re.compile(r"\d")
# a run of 8+ digits, optionally with single spaces, dashes, dots or brackets between them and a
# leading '+', also glued to letters ("+919845012345x"): how phone numbers appear in payloads,
# PostgreSQL messages and tracebacks
# (ISO dates are left alone)
_PHONE_LIKE = re.compile(r"(?<![\d*])(?!\d{4}-\d\d-\d\d)\+?\(?\d(?:[ \-.()]?\d){7,}")


def mask_phone(value: object) -> str:
    """Keep a leading '+' and country-ish prefix and the last two digits; hide the rest."""
    if value is None:
        return "<none>"
    text = str(value)
    digits = [index for index, char in enumerate(text) if char.isdigit()]
    if len(digits) <= 4:
        return _DIGIT.sub("*", text)
    keep = set(digits[:2] if text.lstrip().startswith("+") else []) | set(digits[-2:])
    return "".join(
        char if (not char.isdigit() or index in keep) else "*" for index, char in enumerate(text)
    )


def mask_phones(text: str) -> str:
    """`text` with everything that looks like a phone number masked (mask_phone)."""
    return _PHONE_LIKE.sub(lambda match: mask_phone(match.group(0)), text)


class _MaskingFormatter(logging.Formatter):
    """Tracebacks can quote payload values (PostgreSQL's DETAIL / CONTEXT lines, an exception
    about a record): phone numbers in them are masked before the line is written."""

    def formatException(self, ei) -> str:  # noqa: N802 - logging's name
        return mask_phones(super().formatException(ei))


class TextFormatter(_MaskingFormatter):
    pass


class JsonFormatter(_MaskingFormatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(log_format: str = "text", verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("leadlink")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False

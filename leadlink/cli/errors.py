"""How the root command reports what stops any command: a bad setting (exit 3) and a database
error (exit 1). One line on stderr (a JSON object with --log-format json), never a traceback; URLs
redacted, and nothing of PostgreSQL's DETAIL / CONTEXT lines, which quote row values (phones)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click
import psycopg2

from loaders.database import redact_urls_in
from loaders.logging_utils import mask_phones
from loaders.settings import SettingsError

EXIT_FAILED = 1
EXIT_CONFIG = 3


def database_message(error: psycopg2.Error) -> str:
    """What went wrong, in one line: the primary message (or the first line of a connection
    failure), its SQLSTATE, URLs redacted and phone-like numbers masked."""
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or (str(error).strip().splitlines() or [type(error).__name__])[0]
    code = getattr(error, "pgcode", None)
    kind = type(error).__name__
    line = f"{kind} ({code}): {text}" if code else f"{kind}: {text}"
    return mask_phones(redact_urls_in(" ".join(line.split())))


def _emit(log_format: str, kind: str, message: str, hint: str | None) -> None:
    if log_format == "json":
        entry: dict[str, Any] = {"ts": datetime.now(UTC).isoformat(), "level": "error",
                                 "logger": "leadlink", "error": kind, "message": message}
        if hint:
            entry["hint"] = hint
        click.echo(json.dumps(entry), err=True)
    else:
        click.echo(f"leadlink: {kind} error: {message}" + (f" ({hint})" if hint else ""), err=True)


def _run_summary(exit_code: int, message: str) -> str:
    """The summary line `leadlink run --json` promises even when the run could not start."""
    return json.dumps({"status": "failed", "exit_code": exit_code, "sources": [], "skipped": [],
                       "webhook_queue": None, "dbt_build": "skipped", "message": message},
                      sort_keys=True)


def report(error: Exception, log_format: str, subcommand: str | None, sub_args: list[str]) -> int:
    """Print `error` the way the root command reports it; returns the exit status."""
    if isinstance(error, SettingsError):
        kind, code, message = "configuration", EXIT_CONFIG, "; ".join(error.problems)
        hint = "fix or unset the variable"
    else:
        assert isinstance(error, psycopg2.Error)
        kind, code, message = "database", EXIT_FAILED, database_message(error)
        hint = "is the database up? leadlink db status" \
            if isinstance(error, psycopg2.OperationalError) else None
    _emit(log_format, kind, message, hint)
    if subcommand == "run" and "--json" in sub_args:
        click.echo(_run_summary(code, message))
    return code


def guess_log_format(environ_value: str | None, option_value: str | None) -> str:
    """The log format when the settings themselves could not be read."""
    for value in (option_value, environ_value):
        if value and value.lower() in ("text", "json"):
            return value.lower()
    return "text"

"""How the root command reports what stops any command: a bad setting (exit 3) and a database
error (exit 1). One line on stderr (a JSON object with --log-format json), never a traceback; URLs
redacted, and nothing of PostgreSQL's DETAIL / CONTEXT lines, which quote row values (phones)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click
import psycopg2

from leadlink.pipeline.scheduled_run import failed_summary
from leadlink.runtime.embedded import EmbeddedDatabaseError
from loaders.database import database_message
from loaders.logging_utils import mask_phones
from loaders.settings import SettingsError

EXIT_FAILED = 1
EXIT_CONFIG = 3


def _emit(log_format: str, kind: str, message: str, hint: str | None) -> None:
    if log_format == "json":
        entry: dict[str, Any] = {"ts": datetime.now(UTC).isoformat(), "level": "error",
                                 "logger": "leadlink", "error": kind, "message": message}
        if hint:
            entry["hint"] = hint
        click.echo(json.dumps(entry), err=True)
    else:
        click.echo(f"leadlink: {kind} error: {message}" + (f" ({hint})" if hint else ""), err=True)


def report(error: Exception, log_format: str, subcommand: str | None, sub_args: list[str]) -> int:
    """Print `error` the way the root command reports it; returns the exit status."""
    if isinstance(error, SettingsError):
        kind, code, message = "configuration", EXIT_CONFIG, "; ".join(error.problems)
        hint = "fix or unset the variable"
    elif isinstance(error, EmbeddedDatabaseError):
        # pg_ctl's message and the server log's tail, folded into the one line
        kind, code, message = "database", EXIT_FAILED, mask_phones(" ".join(str(error).split())[:1000])
        hint = None
    else:
        assert isinstance(error, psycopg2.Error)
        kind, code, message = "database", EXIT_FAILED, database_message(error)
        hint = "is the database up? leadlink db status" \
            if isinstance(error, psycopg2.OperationalError) else None
    _emit(log_format, kind, message, hint)
    if subcommand == "run" and "--json" in sub_args:
        # the summary line `leadlink run --json` promises even when the run could not start
        click.echo(json.dumps(failed_summary(code, message), sort_keys=True))
    return code

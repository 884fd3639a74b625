"""Publish's statements live in `sql/*.sql` (linted by sqlfluff); this module loads them and fills
their placeholders: `{name}` with identifiers or fragments composed by psycopg2.sql (the one quoting
mechanism), `%(name)s` with values bound at execution.

A fact the dbt models compute too is not copied here: its dbt macro is rendered with plain jinja2
(no dbt start-up), each argument given as a `{name}` placeholder that psycopg2.sql then fills."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import jinja2
from psycopg2 import sql


@cache
def text(name: str) -> str:
    """The file's SQL without its comment lines (a comment must not swallow a composed fragment)."""
    source = (resources.files(__package__) / "sql" / f"{name}.sql").read_text("utf-8")
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("--"))


def statement(name: str, parts: dict[str, sql.Composable], **extra: sql.Composable) -> sql.Composed:
    return sql.SQL(text(name)).format(**parts, **extra)


def fragment(name: str, parts: dict[str, sql.Composable], **extra: sql.Composable) -> sql.Composed:
    """A file used inside another statement, e.g. as `{candidates}` or `({lead_customers})`."""
    return sql.SQL("(") + statement(name, parts, **extra) + sql.SQL(")")


@cache
def macro_text(path: Path, macro: str, *arguments: str) -> str:
    """The SQL `macro` of the dbt macro file `path` renders with `{argument}` for each argument.

    StrictUndefined: a macro that needs dbt's context (ref, adapter, var) fails here, loudly."""
    try:
        source = path.read_text("utf-8")
    except OSError as error:
        raise RuntimeError(f"publish reads {path.name} from the dbt project ({path}): {error}"
                           " (set LEADLINK_PROJECT_DIR to the project)") from error
    template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(source)
    return str(getattr(template.module, macro)(**{name: f"{{{name}}}" for name in arguments}))


def macro_statement(path: Path, macro: str, **arguments: sql.Composable) -> sql.Composed:
    return sql.SQL(macro_text(path, macro, *arguments)).format(**arguments)

"""Publish's statements live in `sql/*.sql` (linted by sqlfluff); this module loads them and fills
their placeholders: `{name}` with identifiers or fragments composed by psycopg2.sql (the one quoting
mechanism), `%(name)s` with values bound at execution."""

from __future__ import annotations

from functools import cache
from importlib import resources

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

"""Connections and the raw schema's migrations: what every loader stands on."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg2
import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql

from loaders.logging_utils import mask_phones
from loaders.settings import Settings

log = logging.getLogger("leadlink.database")

MIGRATION_LOCK_KEY = 7_310_001  # advisory lock id serialising migrations across processes


SECRET_QUERY_PARAMS = frozenset({
    "access_token", "appsecret_proof", "client_secret", "token", "api_key", "key", "password",
})
_DSN_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
# in running text a password=value ends at punctuation too (quotes, brackets, separators)
_TEXT_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'\"(),;]+)", re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)


def redact_url(url: str) -> str:
    """The URL (or libpq key=value string) with its password and secret query parameters
    (`access_token`, `password`, ...) replaced by ***: safe to print or log."""
    text = str(url)
    if "://" not in text:
        return _DSN_PASSWORD.sub(r"\1***", text)
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        return "<unparseable url>"
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(name.lower() in SECRET_QUERY_PARAMS for name, _ in query):
        cleaned = [(name, "***" if name.lower() in SECRET_QUERY_PARAMS else value)
                   for name, value in query]
        parts = parts._replace(query=urlencode(cleaned, safe="*[]{}:,\"'"))
    if password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{password}@", ":***@", 1))
    return urlunsplit(parts)


def redact_urls_in(text: str) -> str:
    """Every URL inside a message redacted (and libpq `password=` values)."""
    return _TEXT_PASSWORD.sub(r"\1***", _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text))


def database_message(error: psycopg2.Error) -> str:
    """A database error in one printable line: the primary message (or a connection failure's
    first line) and its SQLSTATE; never PostgreSQL's DETAIL / CONTEXT lines, which quote row
    values; URLs redacted and phone-like numbers masked."""
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or (str(error).strip().splitlines() or [type(error).__name__])[0]
    code = getattr(error, "pgcode", None)
    kind = type(error).__name__
    line = f"{kind} ({code}): {text}" if code else f"{kind}: {text}"
    return mask_phones(redact_urls_in(" ".join(line.split())))


def error_line(error: BaseException) -> str:
    """Any error in one printable line with its kind: database_message for a database error,
    else `Kind: first line`; URLs redacted and phone-like numbers masked."""
    if isinstance(error, psycopg2.Error):
        return database_message(error)
    text = (str(error).strip().splitlines() or [""])[0]
    line = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return mask_phones(redact_urls_in(" ".join(line.split())))


def ensure_database_exists(admin_url: str, database: str) -> None:
    conn = connect(admin_url, "leadlink-admin")
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute("select 1 from pg_database where datname = %s", (database,))
            if cursor.fetchone() is None:
                try:
                    cursor.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
                except psycopg2.errors.DuplicateDatabase:
                    pass  # another process created it between our check and our create
    finally:
        conn.close()


def connect(url: str, application_name: str = "leadlink", *, connect_timeout: int = 10,
            **options: object) -> psycopg2.extensions.connection:
    """The one way leadlink opens a connection (every module goes through here)."""
    return psycopg2.connect(url, application_name=application_name, connect_timeout=connect_timeout,
                            **options)


@contextmanager
def connection(url: str, application_name: str = "leadlink") -> Iterator[psycopg2.extensions.connection]:
    conn = connect(url, application_name)
    try:
        yield conn
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()


def _migration_files() -> list[tuple[str, str]]:
    folder = resources.files("loaders") / "migrations"
    files = sorted(entry for entry in folder.iterdir() if entry.name.endswith(".sql"))
    return [(entry.name, entry.read_text(encoding="utf-8")) for entry in files]


def migrate(url: str, settings: Settings) -> list[str]:
    """Apply pending migrations in order, once each, under an advisory lock. Returns applied names."""
    applied: list[str] = []
    with connection(url, "leadlink-migrate") as conn:
        with conn.cursor() as cursor:
            cursor.execute("select pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            cursor.execute(
                sql.SQL("create schema if not exists {}").format(sql.Identifier(settings.raw_schema))
            )
            cursor.execute(
                sql.SQL(
                    "create table if not exists {}.schema_migrations ("
                    " name text primary key, applied_at timestamptz not null default now())"
                ).format(sql.Identifier(settings.raw_schema))
            )
            cursor.execute(
                sql.SQL("select name from {}.schema_migrations").format(
                    sql.Identifier(settings.raw_schema)
                )
            )
            done = {row[0] for row in cursor.fetchall()}
            for name, text in _migration_files():
                if name in done:
                    continue
                cursor.execute(text.replace("{raw_schema}", settings.raw_schema))
                cursor.execute(
                    sql.SQL("insert into {}.schema_migrations (name) values (%s)").format(
                        sql.Identifier(settings.raw_schema)
                    ),
                    (name,),
                )
                applied.append(name)
                log.info("applied migration %s", name)
    return applied

"""Connections and the raw schema's migrations: what every loader stands on."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql

from loaders.settings import Settings

log = logging.getLogger("leadlink.database")

MIGRATION_LOCK_KEY = 7_310_001  # advisory lock id serialising migrations across processes


def redact_url(url: str) -> str:
    """The URL without its password, safe to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def ensure_database_exists(admin_url: str, database: str) -> None:
    conn = psycopg2.connect(admin_url, connect_timeout=10)
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


def connect(url: str, application_name: str = "leadlink") -> psycopg2.extensions.connection:
    return psycopg2.connect(url, application_name=application_name, connect_timeout=10)


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

"""Small helpers shared by the tests (import as `from dbhelpers import query`)."""

from __future__ import annotations

from pathlib import Path

import psycopg2
from click.testing import CliRunner, Result
from psycopg2 import sql

from leadlink.cli.main import cli

PROJECT_DIR = Path(__file__).resolve().parents[2]


def query(url: str, statement: str, params: tuple = ()) -> list[tuple]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        conn.close()


def admin_execute(admin_url: str, statement: sql.Composable) -> None:
    """One statement in autocommit (create / drop database)."""
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement)
    finally:
        conn.close()


def with_database(admin_url: str, database: str) -> str:
    """The same server URL, for another database."""
    head, tail = admin_url.rsplit("/", 1)
    _, _, params = tail.partition("?")
    return f"{head}/{database}" + (f"?{params}" if params else "")


def cli_env(url: str, home: Path) -> dict[str, str]:
    """Environment for running leadlink against `url`, with its files under `home`."""
    return {"LEADLINK_DATABASE_URL": url, "LEADLINK_HOME": str(home / "home"),
            "LEADLINK_PROJECT_DIR": str(PROJECT_DIR), "DBT_TARGET_PATH": str(home / "target"),
            "DBT_LOG_PATH": str(home / "logs")}


def invoke(env: dict[str, str], *args: str, input: str | None = None) -> Result:
    """Run the leadlink CLI in-process."""
    return CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)

"""Shared fixtures: one PostgreSQL server per test session (embedded, in a temp dir, unless
LEADLINK_TEST_DATABASE_URL names an admin URL of a real one) and a fresh database per test."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Iterator

import psycopg2
import pytest
from click.testing import CliRunner, Result
from psycopg2 import sql

from loaders.cli import cli
from loaders.config import Settings
from loaders.database import migrate
from loaders.embedded import EmbeddedServer, server_url

PROJECT_DIR = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("LEADLINK_TEST_DATABASE_URL")
    if external:
        yield external
        return
    server = EmbeddedServer(tmp_path_factory.mktemp("embedded-pg"), _free_port(), fast_unsafe=True)
    status = server.start()
    assert status.port is not None
    yield server_url(status.port, "postgres")
    server.destroy()


def _with_database(admin_url: str, database: str) -> str:
    parts = admin_url.rsplit("/", 1)
    base, _, query = parts[1].partition("?")
    return f"{parts[0]}/{database}" + (f"?{query}" if query else "")


def _admin_execute(admin_url: str, statement: sql.Composable) -> None:
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement)
    finally:
        conn.close()


@pytest.fixture
def empty_database_url(pg_admin_url: str) -> Iterator[str]:
    """A brand-new, empty database; dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    _admin_execute(pg_admin_url, sql.SQL("create database {}").format(sql.Identifier(name)))
    yield _with_database(pg_admin_url, name)
    _admin_execute(pg_admin_url,
                   sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture
def leadlink_env(empty_database_url: str, tmp_path: Path) -> dict[str, str]:
    """Environment for running leadlink against the test database."""
    return {
        "LEADLINK_DATABASE_URL": empty_database_url,
        "LEADLINK_HOME": str(tmp_path / "leadlink-home"),
        "LEADLINK_PROJECT_DIR": str(PROJECT_DIR),
        "DBT_TARGET_PATH": str(tmp_path / "dbt-target"),
        "DBT_LOG_PATH": str(tmp_path / "dbt-logs"),
    }


@pytest.fixture
def settings(leadlink_env: dict[str, str]) -> Settings:
    return Settings.from_environ({**os.environ, **leadlink_env})


@pytest.fixture
def database_url(settings: Settings, empty_database_url: str) -> str:
    """A fresh database with the raw schema migrated."""
    migrate(empty_database_url, settings)
    return empty_database_url


@pytest.fixture
def run_cli(leadlink_env: dict[str, str]):
    """Invoke the leadlink CLI in-process against the test database."""

    def invoke(*args: str, input: str | None = None, extra_env: dict[str, str] | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(cli, list(args), env={**leadlink_env, **(extra_env or {})},
                             input=input, catch_exceptions=False)

    return invoke

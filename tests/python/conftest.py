"""Shared fixtures: one PostgreSQL server per test session (embedded, in a temp dir, unless
LEADLINK_TEST_DATABASE_URL names an admin URL of a real one) and a fresh database per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from dbhelpers import admin_execute, cli_env, invoke, with_database
from psycopg2 import sql

from leadlink.runtime.embedded import EmbeddedServer, server_url
from leadlink.runtime.ports import free_port
from loaders.database import migrate
from loaders.settings import Settings

PROJECT_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("LEADLINK_TEST_DATABASE_URL")
    if external:
        yield external
        return
    server = EmbeddedServer(tmp_path_factory.mktemp("embedded-pg"), free_port(), fast_unsafe=True)
    status = server.start()
    assert status.port is not None
    yield server_url(status.port, "postgres")
    server.destroy()


@pytest.fixture
def empty_database_url(pg_admin_url: str) -> Iterator[str]:
    """A brand-new, empty database; dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin_execute(pg_admin_url, sql.SQL("create database {}").format(sql.Identifier(name)))
    yield with_database(pg_admin_url, name)
    admin_execute(pg_admin_url,
                   sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture
def leadlink_env(empty_database_url: str, tmp_path: Path) -> dict[str, str]:
    """Environment for running leadlink against the test database."""
    return cli_env(empty_database_url, tmp_path)


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

    def run(*args: str, input: str | None = None,
            extra_env: dict[str, str] | None = None) -> Result:
        return invoke({**leadlink_env, **(extra_env or {})}, *args, input=input)

    return run


@pytest.fixture(scope="session")
def pgbouncer(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory):
    """A real PgBouncer in transaction mode in front of the test server (see pgbouncer.py);
    `pgbouncer.url_for(database_url)` is the same database through the pooler."""
    from pgbouncer import PgBouncer, PgBouncerUnavailable

    bouncer = PgBouncer(pg_admin_url, tmp_path_factory.mktemp("pgbouncer"))
    try:
        bouncer.start()
    except PgBouncerUnavailable as error:
        pytest.skip(f"no PgBouncer: {error}")
    yield bouncer
    bouncer.stop()

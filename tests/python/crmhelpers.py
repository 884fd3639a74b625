"""Fixtures shared by the tests of the CRM functions: the install plan rendered by dbt once per
module, and the sample CRM export loaded (never built, never published) with the functions
installed, to clone per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg2
import pytest
from dbhelpers import PROJECT_DIR, admin_execute, cli_env, invoke, with_database
from livehelpers import drop_database
from psycopg2 import sql

from leadlink.crm.functions.install import install
from leadlink.crm.functions.plan import InstallPlan, render_plan
from loaders.settings import Settings

LEGACY = PROJECT_DIR / "samples" / "legacy"


def load_samples(env: dict[str, str]) -> None:
    result = invoke(env, "load", "legacy", "--leads", str(LEGACY / "leads_master.csv"),
                    "--customers", str(LEGACY / "customers.csv"), "--sources",
                    str(LEGACY / "sources.csv"), "--history", str(LEGACY / "lead_sources_history.csv"))
    assert result.exit_code == 0, result.output


_PLANS: dict[str, InstallPlan] = {}


@pytest.fixture(scope="module")
def plan(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> InstallPlan:
    """Rendered once per test process: the plan depends on the project, not on a database."""
    if pg_admin_url not in _PLANS:
        env = cli_env(pg_admin_url, tmp_path_factory.mktemp("crm-plan"))
        _PLANS[pg_admin_url] = render_plan(Settings.from_environ(env), pg_admin_url)
    return _PLANS[pg_admin_url]


@pytest.fixture(scope="module")
def crm_template(pg_admin_url: str, plan: InstallPlan,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The sample CRM as `leadlink load legacy` leaves it (never built), functions installed."""
    name = f"crmfn_{uuid.uuid4().hex[:10]}"
    admin_execute(pg_admin_url, sql.SQL("create database {}").format(sql.Identifier(name)))
    url = with_database(pg_admin_url, name)
    load_samples(cli_env(url, tmp_path_factory.mktemp("crm-template")))
    install(url, plan)
    yield name
    drop_database(pg_admin_url, name)


def execute_sql(url: str, statement: str, params: tuple = ()) -> list[tuple]:
    """One statement, committed (dbhelpers.query rolls back)."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        conn.close()

"""The CRM fixture publish's tests share: built once per test session from the reference schema
(`leadlink load legacy` of the sample export + Knowlarity and Meta sample files via `leadlink load
file`, then `dbt build`) and cloned per test with `create database ... template`; and full dumps of
the CRM tables to compare before and after."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from dbhelpers import PROJECT_DIR, admin_execute, cli_env, invoke, query, with_database
from psycopg2 import sql

SAMPLES = PROJECT_DIR / "samples"
CRM_TABLES = ("sources", "customers", "leads_master", "lead_sources_history")


@pytest.fixture(scope="session")
def template_db(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database with the CRM export, Knowlarity/Meta records and the marts, built once."""
    name = f"pubtpl_{uuid.uuid4().hex[:10]}"
    admin_execute(pg_admin_url, sql.SQL("create database {}").format(sql.Identifier(name)))
    url = with_database(pg_admin_url, name)
    env = cli_env(url, tmp_path_factory.mktemp("publish-template"))
    legacy = SAMPLES / "legacy"
    result = invoke(env, "load", "legacy", "--leads", str(legacy / "leads_master.csv"),
                    "--customers", str(legacy / "customers.csv"),
                    "--sources", str(legacy / "sources.csv"),
                    "--history", str(legacy / "lead_sources_history.csv"))
    assert result.exit_code == 0, result.output
    for source, folder in (("knowlarity", "knowlarity"), ("meta", "meta")):
        files = sorted(str(path) for path in (SAMPLES / folder).glob("*.json"))
        result = invoke(env, "load", "file", "--source", source, *files)
        assert result.exit_code == 0, result.output
    result = invoke(env, "dbt", "build")
    assert result.exit_code == 0, result.output
    yield name
    admin_execute(pg_admin_url, sql.SQL("drop database if exists {} with (force)").format(
        sql.Identifier(name)))


@pytest.fixture
def crm(pg_admin_url: str, template_db: str, tmp_path: Path) -> Iterator[dict]:
    """A fresh copy of the template database; yields its url and a CLI runner."""
    name = f"pub_{uuid.uuid4().hex[:10]}"
    admin_execute(pg_admin_url, sql.SQL("create database {} template {}").format(
        sql.Identifier(name), sql.Identifier(template_db)))
    url = with_database(pg_admin_url, name)
    env = cli_env(url, tmp_path)

    def run(*args: str, extra: dict[str, str] | None = None):
        return invoke({**env, **(extra or {})}, *args)

    yield {"url": url, "run": run, "env": env, "name": name}
    admin_execute(pg_admin_url, sql.SQL("drop database if exists {} with (force)").format(
        sql.Identifier(name)))


def dump(url: str, schema: str = "crm") -> dict[str, object]:
    """Every row of every CRM table (as text, sorted), plus columns and constraints."""
    out: dict[str, object] = {}
    for table in CRM_TABLES:
        out[table] = [row[0] for row in query(
            url, f"select t::text from {schema}.{table} as t order by 1")]
        out[f"{table} columns"] = query(
            url, "select attname, format_type(atttypid, atttypmod), attnotnull from pg_attribute"
                 " where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped"
                 " order by attnum", (f"{schema}.{table}",))
        out[f"{table} constraints"] = query(
            url, "select conname, contype, convalidated, pg_get_constraintdef(oid)"
                 " from pg_constraint where conrelid = to_regclass(%s) order by conname",
            (f"{schema}.{table}",))
    return out


def checksums(url: str, schema: str = "crm") -> dict[str, str]:
    return {table: query(url, f"select md5(coalesce(string_agg(t::text, '|' order by t::text),"
                              f" '')) from {schema}.{table} as t")[0][0]
            for table in CRM_TABLES}

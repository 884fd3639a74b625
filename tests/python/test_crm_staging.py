"""The CRM staging views never block the CRM team's migrations, and a first `dbt build` against a
database without the CRM's tables stops at once with one message naming the schema and the fix."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from dbhelpers import PROJECT_DIR, admin_execute, cli_env, invoke, query, with_database
from livehelpers import drop_database
from psycopg2 import sql

LEGACY = PROJECT_DIR / "samples" / "legacy"
CRM_MODELS = "path:models/staging/crm"


def execute(url: str, statement: str) -> None:
    import psycopg2

    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement)
        conn.commit()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def template(pg_admin_url, tmp_path_factory) -> Iterator[str]:
    """The sample export loaded, the CRM carrying a column leadlink never reads, the CRM views built."""
    name = f"stgtpl_{uuid.uuid4().hex[:10]}"
    admin_execute(pg_admin_url, sql.SQL("create database {}").format(sql.Identifier(name)))
    url = with_database(pg_admin_url, name)
    env = cli_env(url, tmp_path_factory.mktemp("crm-staging"))
    result = invoke(env, "load", "legacy", "--leads", str(LEGACY / "leads_master.csv"),
                    "--customers", str(LEGACY / "customers.csv"), "--sources", str(LEGACY / "sources.csv"),
                    "--history", str(LEGACY / "lead_sources_history.csv"))
    assert result.exit_code == 0, result.output
    execute(url, "alter table crm.customers add column loyalty_tier text;"
                 " alter table crm.leads_master add column utm_campaign text")
    result = invoke(env, "dbt", "run", "--select", CRM_MODELS)
    assert result.exit_code == 0, result.output
    yield name
    drop_database(pg_admin_url, name)


@pytest.fixture(scope="module")
def crm(pg_admin_url, template, tmp_path_factory) -> Iterator[dict]:
    """The template itself, with one dbt target dir for the module: dbt parses the project once
    (partial parsing), each test puts back what it changed."""
    url = with_database(pg_admin_url, template)
    yield {"url": url, "env": cli_env(url, tmp_path_factory.mktemp("crm-staging-runs"))}


def dbt(crm: dict, *args: str, **extra: str):
    return invoke({**crm["env"], **extra}, "dbt", *args)


def test_dropping_a_column_leadlink_does_not_read_is_not_blocked(crm):
    # with `select *` views this failed: "cannot drop column ... because other objects depend on it"
    execute(crm["url"], "alter table crm.customers drop column loyalty_tier;"
                        " alter table crm.leads_master drop column utm_campaign")
    result = dbt(crm, "run", "--select", CRM_MODELS)
    assert result.exit_code == 0, result.output


def test_a_missing_optional_column_reads_as_a_typed_null(crm):
    execute(crm["url"], "alter table crm.customers drop column city cascade")
    result = dbt(crm, "run", "--select", "stg_crm__customers")
    execute(crm["url"], "alter table crm.customers add column city text")
    assert result.exit_code == 0, result.output
    assert "has no column city; read as null" in result.output
    assert query(crm["url"], "select count(*), count(city), pg_typeof(min(city))::text"
                             " from analytics_staging.stg_crm__customers")[0][1:] == (0, "text")


def test_a_missing_required_column_is_an_error_naming_it(crm):
    execute(crm["url"], "alter table crm.leads_master rename column phone_number_normalized to phone")
    result = dbt(crm, "run", "--select", "stg_crm__leads_master")
    execute(crm["url"], "alter table crm.leads_master rename column phone to phone_number_normalized")
    assert result.exit_code != 0
    assert "has no column phone_number_normalized" in result.output
    assert '"crm"."leads_master"' in result.output


def test_first_build_without_the_crm_tables_stops_with_one_message(database_url, tmp_path):
    result = invoke(cli_env(database_url, tmp_path), "dbt", "build")
    assert result.exit_code != 0
    output = result.output
    assert 'the CRM\'s tables are not in schema "crm"' in output
    assert "LEADLINK_CRM_SCHEMA" in output and "leadlink load legacy" in output
    assert "does not exist" not in output and " START " not in output  # nothing ran


def test_a_wrong_crm_schema_names_the_schema(crm):
    result = dbt(crm, "build", LEADLINK_CRM_SCHEMA="public")
    assert result.exit_code != 0
    assert 'the CRM\'s tables are not in schema "public"' in result.output
    assert "missing: customers, lead_sources_history, leads_master, sources" in result.output


@pytest.mark.parametrize(("view", "key", "index"), [
    ("stg_crm__leads_master", "lead_id", "leads_master_pkey"),
    ("stg_crm__customers", "customer_id", "customers_pkey"),
])
def test_a_join_on_the_id_through_a_crm_view_uses_the_crm_primary_key(crm, view, key, index):
    # PostgreSQL never flattens a view whose query has a WITH list: a join through it could not
    # reach the primary key and scanned the whole CRM table (1 s per model at 1M leads)
    import psycopg2

    conn = psycopg2.connect(crm["url"])
    try:
        with conn.cursor() as cursor:
            cursor.execute("create temp table wanted (id bigint); insert into wanted values (1), (2)")
            for setting in ("enable_hashjoin", "enable_mergejoin", "enable_seqscan"):
                cursor.execute(f"set {setting} = off")
            cursor.execute(f"explain select staged.{key} from wanted"
                           f" inner join analytics_staging.{view} as staged on staged.{key} = wanted.id")
            plan = "\n".join(row[0] for row in cursor.fetchall())
    finally:
        conn.close()
    assert index in plan and "Index Cond" in plan, plan

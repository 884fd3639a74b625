"""The project's `unique` and `not_null` (macros/generic_tests/) read the catalog instead of every
row only where the database itself enforces the rule: a valid, non-partial unique index on the
column alone, a NOT NULL column of a table. Anything else (a partial or multi-column index, a
view, a test with a `where` config) is counted as dbt's own tests count it."""

from __future__ import annotations

import psycopg2
import pytest
from dbhelpers import cli_env, invoke

SCRATCH = """
create schema scratch;
create table scratch.plain (k int, v int);
create table scratch.partial (k int, v int);
create unique index on scratch.partial (k) where k > 1;
create table scratch.pair (k int, v int);
create unique index on scratch.pair (k, v);
create table scratch.keyed (k int primary key, v int not null);
create view scratch.keyed_view as select k, v from scratch.keyed;
insert into scratch.plain values (1, null), (1, null), (2, 5);
insert into scratch.partial select * from scratch.plain;
insert into scratch.pair select * from scratch.plain;
insert into scratch.keyed values (1, 1), (2, 2);
"""

# relation -> (unique held by the catalog, not null held by the catalog, duplicate keys, null rows)
EXPECTED = {
    "plain": (False, False, 1, 2),
    "partial": (False, False, 1, 2),
    "pair": (False, False, 1, 2),
    "keyed": (True, True, 0, 0),
    "keyed_view": (False, False, 0, 0),
}


def probe(name: str) -> str:
    relation = f"api.Relation.create(schema='scratch', identifier='{name}')"
    return (f"select '{name}', {{{{ leadlink.unique_index_holds({relation}, 'k') }}}},"
            f" {{{{ leadlink.not_null_constraint_holds({relation}, 'v') }}}},"
            f" (select count(*) from ({{{{ default__test_unique({relation}, 'k') }}}}) as found),"
            f" (select count(*) from ({{{{ default__test_not_null({relation}, 'v') }}}}) as found)")


@pytest.fixture
def scratch(database_url: str, tmp_path) -> dict:
    conn = psycopg2.connect(database_url)
    with conn, conn.cursor() as cursor:
        cursor.execute(SCRATCH)
    conn.close()
    return {"url": database_url, "env": cli_env(database_url, tmp_path)}


def compiled(env: dict[str, str], inline: str) -> str:
    result = invoke(env, "dbt", "compile", "--quiet", "--inline", inline)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_catalog_decides_only_where_the_database_enforces_the_rule(scratch):
    # one dbt compile for every case (each costs dbt's start-up)
    subquery = "(select * from scratch.plain where v is null) as dbt_subquery"
    where_test = f"{{{{ default__test_unique('{subquery}', 'k') }}}}"
    text = compiled(scratch["env"], " union all ".join(probe(name) for name in EXPECTED)
                    + f" union all select 'where', null, null, (select count(*) from ({where_test})"
                    " as found), null")
    conn = psycopg2.connect(scratch["url"])
    try:
        with conn.cursor() as cursor:
            cursor.execute(text)
            found = {row[0]: row[1:] for row in cursor.fetchall()}
    finally:
        conn.close()
    assert {name: found[name] for name in EXPECTED} == EXPECTED
    # a test with a `where` config gets a subquery, not a relation: always counted
    assert found["where"] == (None, None, 1, None)
    assert "pg_index" not in text[text.index("select 'where'"):]

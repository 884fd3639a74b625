"""The FOREIGN KEY / NOT NULL readiness facts are one definition (macros/readiness/): readiness_checks,
publish's plan (the state it predicts) and publish's apply (the live tables) count the same rows.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg2
import pytest
from dbhelpers import PROJECT_DIR, invoke, query
from psycopg2 import sql
from publish_fixtures import crm, template_db  # noqa: F401

from leadlink.crm.publish import constraints, queries

PLAN_MISSING = re.compile(r"^(\d+) lead\(s\) would point at a missing customer$")
PLAN_NULLS = re.compile(r"^(\d+) lead\(s\) would have no customer_id")
APPLY_MISSING = re.compile(r"^(\d+) lead\(s\) point at a customer id that does not exist$")
APPLY_NULLS = re.compile(r"^(\d+) lead\(s\) have no customer_id")


def _figure(items: list[dict], kind: str, pattern: re.Pattern[str]) -> int:
    reason = next(item for item in items if item["kind"] == kind)["reason"]
    match = pattern.match(reason)
    assert match, f"{kind}: {reason!r}"
    return int(match.group(1))


def test_plan_apply_and_readiness_count_the_same_violations(crm):
    url = crm["url"]
    # a lead the app wrote after the build, on a customer id that does not exist: publish leaves
    # it alone, so it blocks the foreign key in every view of the data
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cursor:
        cursor.execute("insert into crm.leads_master (full_name, phone_number_normalized,"
                       " customer_id) select 'Orphan Lead', '9000000001',"
                       " (select max(id) + 1000000 from crm.customers)")
    conn.close()

    planned = json.loads(crm["run"]("publish", "--json").stdout)["constraints"]
    result = crm["run"]("publish", "--apply", "--json")
    assert result.exit_code == 0, result.output
    applied = json.loads(result.stdout)["constraints"]
    assert {item["state"] for item in applied} == {"blocked"}
    refreshed = invoke(crm["env"], "readiness", "--refresh", "--json")
    checks = {check["name"]: check["failing_rows"] for check in json.loads(refreshed.stdout)["checks"]}

    # the plan predicted, before the apply, what the apply then counted on the live tables and
    # readiness_checks counts on the CRM's tables after it
    missing = _figure(planned, "foreign_key", PLAN_MISSING)
    assert missing == _figure(applied, "foreign_key", APPLY_MISSING) == checks[
        "customer_id_foreign_key"] == 1
    nulls = _figure(planned, "not_null", PLAN_NULLS)
    assert nulls == _figure(applied, "not_null", APPLY_NULLS) == checks["customer_id_not_null"] == query(
        url, "select count(*) from crm.leads_master where customer_id is null")[0][0] > 0


def test_publish_counts_with_the_readiness_macro(tmp_path: Path):
    assert not (PROJECT_DIR / "leadlink" / "crm" / "publish" / "sql" / "constraint_violations.sql").exists()
    target = type("Target", (), {"project_dir": PROJECT_DIR})()
    statement = constraints.violations_statement(target, sql.Identifier("crm", "leads_master"),
                                                 sql.Identifier("crm", "customers"))
    rendered = queries.macro_text(PROJECT_DIR / constraints.VIOLATIONS_MACRO, "lead_customer_violations",
                                  "lead_customers", "customer_ids")
    assert statement == sql.SQL(rendered).format(lead_customers=sql.Identifier("crm", "leads_master"),
                                                 customer_ids=sql.Identifier("crm", "customers"))
    assert "from {customer_ids} as known_customers" in rendered and "from {lead_customers}" in rendered
    # the readiness facts use the same definition, per lead (the counts are of its rows)
    assert "lead_customer_violation_rows(" in (PROJECT_DIR / constraints.VIOLATIONS_MACRO).read_text()
    assert "lead_customer_violation_rows(" in (
        PROJECT_DIR / "models" / "marts" / "readiness" / "readiness_failing_leads.sql").read_text()

    # plain Jinja only: a macro that needs dbt's context fails loudly instead of rendering blanks
    needs_dbt = tmp_path / "needs_dbt.sql"
    needs_dbt.write_text("{% macro counts(rows) %}select count(*) from {{ ref(rows) }}{% endmacro %}")
    with pytest.raises(Exception, match="ref"):
        queries.macro_text(needs_dbt, "counts", "rows")
    with pytest.raises(RuntimeError, match="LEADLINK_PROJECT_DIR"):
        queries.macro_text(tmp_path / "absent.sql", "counts", "rows")

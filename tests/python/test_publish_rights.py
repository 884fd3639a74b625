"""What publish checks before and after writing: the role's privileges and row-level security
(a missing right is named with its fix and nothing is written; an RLS policy that silently filters
an update is an error, never a success), and customers the app created after the build in
another writing of the same number (matched through the normaliser, not the raw string)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import psycopg2
import pytest
from dbhelpers import query
from publish_fixtures import crm, dump, template_db  # noqa: F401

TABLES = "crm.sources, crm.customers, crm.leads_master, crm.lead_sources_history"


def as_owner(url: str, *statements: str) -> None:
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    conn.close()


def own_tables_under_forced_rls(url: str, role: str, *extra: str) -> None:
    """`role` owns the CRM tables (so it may add constraints) but RLS is forced on it, and its
    update policy on leads_master silently skips every other lead."""
    as_owner(url, f"grant insert, update, delete on {TABLES} to {role}", *extra,
             f"alter table crm.leads_master owner to {role}",
             f"alter table crm.customers owner to {role}",
             "alter table crm.leads_master enable row level security",
             "alter table crm.leads_master force row level security",
             f"create policy leads_read on crm.leads_master for select to {role} using (true)",
             f"create policy leads_insert on crm.leads_master for insert to {role}"
             " with check (true)",
             f"create policy leads_write on crm.leads_master for update to {role}"
             " using (id % 2 = 0)")


@pytest.fixture
def role(crm) -> Iterator[str]:
    """A login role that may use leadlink_publish (its audit and scratch tables) and read the CRM;
    what else it may do is up to the test. Roles are cluster-wide: dropped afterwards."""
    name = f"publisher_{uuid.uuid4().hex[:8]}"
    as_owner(crm["url"], f"create role {name} login",
             f"grant usage on schema crm to {name}",
             f"grant usage, create on schema leadlink_publish to {name}",
             f"grant all on all tables in schema leadlink_publish to {name}",
             f"grant usage on all sequences in schema leadlink_publish to {name}",
             f"grant select on {TABLES} to {name}")
    yield name
    as_owner(crm["url"], f"drop owned by {name} cascade", f"drop role {name}")


def crm_as(crm: dict, role: str) -> dict[str, str]:
    """Publish into the same database as `role` (marts still read as leadlink's own role)."""
    return {"LEADLINK_CRM_DATABASE_URL": crm["url"].replace("postgres@", f"{role}@", 1)}


def test_a_role_without_update_is_stopped_before_writing(crm, role):
    as_owner(crm["url"], f"grant insert on {TABLES} to {role}")
    before = dump(crm["url"])
    result = crm["run"]("publish", "--apply", extra=crm_as(crm, role))
    assert result.exit_code == 1, result.output
    assert f"UPDATE on crm.leads_master (leads_master.customer_id to set): grant update on" \
           f" crm.leads_master to {role}" in result.output
    assert "UPDATE on crm.customers" in result.output
    assert "ownership of crm.leads_master" in result.output  # the FK would need it
    assert "nothing was written" in result.output
    assert dump(crm["url"]) == before
    assert query(crm["url"], "select count(*) from leadlink_publish.batches") == [(0,)]


def test_rls_without_an_update_policy_is_stopped_before_writing(crm, role):
    as_owner(crm["url"], f"grant insert, update, delete on {TABLES} to {role}",
             f"grant usage on all sequences in schema crm to {role}",
             "alter table crm.leads_master enable row level security",
             f"create policy leads_read on crm.leads_master for select to {role} using (true)",
             f"alter table crm.leads_master owner to {role}",
             "alter table crm.leads_master force row level security",
             f"alter table crm.customers owner to {role}")
    before = dump(crm["url"])
    result = crm["run"]("publish", "--apply", extra=crm_as(crm, role))
    assert result.exit_code == 1, result.output
    assert "row-level security policy allowing UPDATE on crm.leads_master" in result.output
    assert dump(crm["url"]) == before


def test_an_rls_policy_that_filters_the_update_is_a_shortfall(crm, role):
    own_tables_under_forced_rls(crm["url"], role, f"grant usage on all sequences in schema crm to {role}")
    result = crm["run"]("publish", "--apply", "--json", extra=crm_as(crm, role))
    assert result.exit_code == 1, result.output
    assert "2.leads.link" in result.output and "not written" in result.output
    assert query(crm["url"], "select status from leadlink_publish.batches") == [("failed",)]
    # the range that fell short was rolled back: no lead carries a customer_id from publish
    assert query(crm["url"], "select count(*) from leadlink_publish.lead_customer_changes") == [
        (0,)]


@pytest.mark.parametrize("horizon", ["as built", "ahead of the server"])
def test_a_customer_the_app_created_in_another_writing_is_used(crm, horizon):
    """Publish looks for such customers among the CRM rows written since the build's horizon;
    a horizon ahead of the server (the database restored from a dump into another cluster, with
    the marts) cannot say which those are, so publish looks at every customer."""
    url = crm["url"]
    if horizon == "ahead of the server":
        as_owner(url, "update analytics.publish_crm_horizon set crm_write_horizon ="
                      " cast(cast(pg_snapshot_xmin(pg_current_snapshot()) as text) as bigint)"
                      " + 50000000")
    customer_id, phone = query(url, """
        select customers.customer_id, customers.phone_e164 from analytics.customers as customers
        where customers.phone_e164 like '+91%%'
            and not exists (select from crm.customers as crm_customers
                            where crm_customers.id = customers.customer_id)
            and exists (select from analytics.leads as leads
                        where leads.customer_id = customers.customer_id
                            and leads.legacy_lead_id is null)
        order by customers.customer_id limit 1""")[0]
    national = phone[3:]
    writing = f"0{national[:5]} {national[5:]}"  # how a receptionist types it
    as_owner(url, "insert into crm.customers (phone_number_normalized, full_name)"
                  f" values ('{writing}', 'Typed At The Desk')")
    app_id = query(url, "select id from crm.customers where phone_number_normalized = %s",
                   (writing,))[0][0]
    result = crm["run"]("publish", "--apply", "--json")
    assert result.exit_code == 0, result.output
    applied = json.loads(result.stdout)
    assert applied["plan"]["customers"]["matched_by_phone"] >= 1
    assert query(url, "select count(*) from crm.customers where id = %s", (customer_id,)) == [(0,)]
    published = query(url, "select distinct lm.customer_id from crm.leads_master as lm"
                           " inner join analytics.leads as leads"
                           " on leads.external_lead_id = lm.external_lead_id"
                           " where leads.customer_id = %s", (customer_id,))
    assert published == [(app_id,)]


def test_undo_as_a_role_without_delete_is_stopped_before_writing(crm, role):
    applied = json.loads(crm["run"]("publish", "--apply", "--json").stdout)
    as_owner(crm["url"], f"grant insert, update on {TABLES} to {role}")
    before = dump(crm["url"])
    result = crm["run"]("publish", "--undo", str(applied["batch_id"]), extra=crm_as(crm, role))
    assert result.exit_code == 1, result.output
    assert "lacks what this undo needs; nothing was written" in result.output
    assert "DELETE on crm.customers (undo:" in result.output
    assert dump(crm["url"]) == before
    assert query(crm["url"], "select status from leadlink_publish.batches") == [("applied",)]
    # the owner can still undo it
    assert crm["run"]("publish", "--undo", str(applied["batch_id"])).exit_code == 0
    assert query(crm["url"], "select status from leadlink_publish.batches") == [("undone",)]


def test_undo_under_an_rls_policy_that_filters_the_restore_is_a_shortfall(crm, role):
    applied = json.loads(crm["run"]("publish", "--apply", "--json").stdout)
    own_tables_under_forced_rls(crm["url"], role, f"create policy leads_delete on crm.leads_master"
                                f" for delete to {role} using (true)")
    result = crm["run"]("publish", "--undo", str(applied["batch_id"]), extra=crm_as(crm, role))
    assert result.exit_code == 1, result.output
    assert "selected for the restore but not written" in result.output
    assert query(crm["url"], "select status from leadlink_publish.batches") == [("undo_failed",)]
    # resumable: the owner's undo (RLS does not apply to the superuser) finishes it
    undone = crm["run"]("publish", "--undo", str(applied["batch_id"]))
    assert undone.exit_code == 0, undone.output
    assert query(crm["url"], "select status from leadlink_publish.batches") == [("undone",)]

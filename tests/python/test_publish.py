"""`leadlink publish`: dry run, apply (twice), app writes in the middle, constraints, undo, a CRM in
another database, --delete-merged, and the receptionist lookup.

The CRM fixture (publish_fixtures.py) is built once per session and cloned per test.
"""

from __future__ import annotations

import io
import json
import uuid

import psycopg2
from dbhelpers import admin_execute, query, with_database
from psycopg2 import sql
from publish_fixtures import CRM_TABLES, checksums, crm, dump, template_db  # noqa: F401

from loaders.legacy import CRM_DDL


def test_dry_run_changes_nothing_and_shows_the_plan(crm):
    before, before_dump = checksums(crm["url"]), dump(crm["url"])
    text = crm["run"]("publish")
    assert text.exit_code == 0, text.output
    assert "customers: insert" in text.output and "dry run: nothing written" in text.output
    result = crm["run"]("publish", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["customers"]["update"] + plan["customers"]["insert"] > 0
    assert plan["leads_master"]["set_customer_id"] > 0
    assert plan["customers"]["mark_merged"] > 0
    kinds = {item["kind"]: item for item in plan["constraints"]}
    assert kinds["foreign_key"]["state"] == "can_add"
    assert kinds["not_null"]["state"] == "blocked"  # unlinkable leads are still there
    assert checksums(crm["url"]) == before
    assert dump(crm["url"]) == before_dump


def test_apply_is_idempotent_validated_and_undone_exactly(crm):
    url = crm["url"]
    before = dump(url)
    first = crm["run"]("publish", "--apply", "--archive-unlinkable", "--json")
    assert first.exit_code == 0, first.output
    applied = json.loads(first.stdout)
    assert {item["state"] for item in applied["constraints"]} == {"added"}

    # constraints in place and validated
    assert query(url, "select conname, convalidated from pg_constraint"
                      " where conrelid = 'crm.leads_master'::regclass and contype = 'f'"
                      " and conname = 'leads_master_customer_id_fkey'") == [
        ("leads_master_customer_id_fkey", True)]
    assert query(url, "select attnotnull from pg_attribute where attrelid ="
                      " 'crm.leads_master'::regclass and attname = 'customer_id'") == [(True,)]
    assert query(url, "select count(*) from pg_constraint where conname ="
                      " 'leads_master_customer_id_present'") == [(0,)]
    # every lead linked; merged duplicates marked, their leads on the survivor
    assert query(url, "select count(*) from crm.leads_master where customer_id is null") == [(0,)]
    assert query(url, "select count(*) from crm.leads_master as lm inner join crm.customers as c"
                      " on c.id = lm.customer_id where c.merged_into_customer_id is not null"
                      ) == [(0,)]
    marked = query(url, "select count(*) from crm.customers"
                        " where merged_into_customer_id is not null")[0][0]
    assert marked == applied["plan"]["customers"]["mark_merged"] > 0
    # counters recomputed from the data
    assert query(url, "select count(*) from crm.sources as s where total_leads_count <>"
                      " (select count(*) from crm.leads_master as lm where lm.source_id = s.id)"
                      ) == [(0,)]

    after_first = dump(url)
    second = crm["run"]("publish", "--apply", "--archive-unlinkable", "--json")
    assert second.exit_code == 0, second.output
    again = json.loads(second.stdout)
    assert sum(again["figures"]["rows"].values()) == 0
    assert {item["state"] for item in again["constraints"]} == {"present"}
    assert dump(url) == after_first

    undo_second = crm["run"]("publish", "--undo", str(again["batch_id"]))
    assert undo_second.exit_code == 0, undo_second.output
    assert dump(url) == after_first
    undo_first = crm["run"]("publish", "--undo", str(applied["batch_id"]))
    assert undo_first.exit_code == 0, undo_first.output
    assert dump(url) == before
    assert crm["run"]("publish", "--undo", str(applied["batch_id"])).exit_code != 0


def test_app_writes_during_apply_are_kept(crm, monkeypatch):
    from leadlink.crm.publish import steps

    url = crm["url"]
    plan = json.loads(crm["run"]("publish", "--json").stdout)
    assert plan["customers"]["update"] > 0
    # a customer publish is about to update, and a merged duplicate to point a new lead at
    edited_id = query(url, "select customer_id from analytics.customers as m"
                           " inner join crm.customers as c on c.id = m.customer_id"
                           " where (m.full_name, m.phone_e164) is distinct from"
                           " (c.full_name, c.phone_number_normalized)"
                           " order by customer_id limit 1")[0][0]
    merged_id, survivor_id = query(url, "select merged_customer_id, surviving_customer_id"
                                        " from analytics.customer_merges order by 1 limit 1")[0]
    real_run = steps.Step.run
    app_lead: list[int] = []

    def run_with_app_writes(self, name, body):
        if name == "1.customers.update":
            conn = psycopg2.connect(url)
            with conn, conn.cursor() as cursor:
                cursor.execute("update crm.customers set full_name = 'Edited In The App'"
                               " where id = %s", (edited_id,))
                cursor.execute(
                    "insert into crm.leads_master (full_name, phone_number_normalized,"
                    " source_id, status, customer_id) values ('Walk In', '9811100000', 3,"
                    " 'New', %s) returning id", (merged_id,))
                app_lead.append(cursor.fetchone()[0])
            conn.close()
        return real_run(self, name, body)

    monkeypatch.setattr(steps.Step, "run", run_with_app_writes)
    result = crm["run"]("publish", "--apply", "--archive-unlinkable")
    assert result.exit_code == 0, result.output
    assert query(url, "select full_name from crm.customers where id = %s", (edited_id,)) == [
        ("Edited In The App",)]
    # the app's lead is there, moved from the merged duplicate to the survivor
    assert query(url, "select full_name, customer_id from crm.leads_master where id = %s",
                 (app_lead[0],)) == [("Walk In", survivor_id)]
    assert query(url, "select attnotnull from pg_attribute where attrelid ="
                      " 'crm.leads_master'::regclass and attname = 'customer_id'") == [(True,)]
    # a later undo leaves the app's edit alone as well
    batch = query(url, "select max(batch_id) from leadlink_publish.batches")[0][0]
    assert crm["run"]("publish", "--undo", str(batch)).exit_code == 0
    assert query(url, "select full_name from crm.customers where id = %s", (edited_id,)) == [
        ("Edited In The App",)]
    assert query(url, "select count(*) from crm.leads_master where id = %s", (app_lead[0],)) == [
        (1,)]


def test_delete_merged_only_when_unreferenced_and_undo(crm):
    url = crm["url"]
    before = dump(url)
    result = crm["run"]("publish", "--apply", "--delete-merged", "--json")
    assert result.exit_code == 0, result.output
    applied = json.loads(result.stdout)
    assert applied["figures"]["rows"]["1.customers.delete_merged"] > 0
    assert query(url, "select count(*) from crm.customers as c where c.id in"
                      " (select merged_customer_id from analytics.customer_merges)") == [(0,)]
    assert query(url, "select count(*) from crm.leads_master as lm where lm.customer_id"
                      " is not null and not exists (select from crm.customers as c"
                      " where c.id = lm.customer_id)") == [(0,)]
    kinds = {item["kind"]: item["state"] for item in applied["constraints"]}
    assert kinds == {"foreign_key": "added", "not_null": "blocked"}
    assert crm["run"]("publish", "--undo", str(applied["batch_id"])).exit_code == 0
    assert dump(url) == before


def test_crm_in_another_database(crm, pg_admin_url):
    """LEADLINK_CRM_DATABASE_URL: marts read from leadlink's database, rows moved with COPY."""
    name = f"pubcrm_{uuid.uuid4().hex[:10]}"
    admin_execute(pg_admin_url, sql.SQL("create database {}").format(sql.Identifier(name)))
    crm_url = with_database(pg_admin_url, name)
    try:
        source = psycopg2.connect(crm["url"])
        target = psycopg2.connect(crm_url)
        with target, target.cursor() as cursor:
            cursor.execute("create schema public_crm")
            cursor.execute(CRM_DDL.format(schema="public_crm"))
        for table in CRM_TABLES:
            with source.cursor() as out_cursor, target.cursor() as in_cursor:
                buffer = io.StringIO()
                out_cursor.copy_expert(f"copy crm.{table} to stdout", buffer)
                buffer.seek(0)
                in_cursor.copy_expert(f"copy public_crm.{table} from stdin", buffer)
            target.commit()
        source.close()
        target.close()
        extra = {"LEADLINK_CRM_DATABASE_URL": crm_url, "LEADLINK_CRM_SCHEMA": "public_crm"}
        before = dump(crm_url, "public_crm")
        dry = crm["run"]("publish", "--json", extra=extra)
        assert dry.exit_code == 0, dry.output
        assert json.loads(dry.stdout)["crm_database"] == "separate"
        assert query(crm_url, "select to_regnamespace('leadlink_publish')") == [(None,)]
        result = crm["run"]("publish", "--apply", "--archive-unlinkable", "--json", extra=extra)
        assert result.exit_code == 0, result.output
        applied = json.loads(result.stdout)
        assert query(crm_url, "select count(*) from public_crm.leads_master"
                              " where customer_id is null") == [(0,)]
        assert query(crm_url, "select convalidated from pg_constraint where conname ="
                              " 'leads_master_customer_id_fkey'") == [(True,)]
        assert query(crm_url, "select count(*) > 0 from leadlink_publish.lead_customer_changes"
                     ) == [(True,)]
        # leadlink's own copy of the CRM tables was not touched
        assert query(crm["url"], "select count(*) from crm.leads_master"
                                 " where customer_id is null")[0][0] > 0
        undo = crm["run"]("publish", "--undo", str(applied["batch_id"]), extra=extra)
        assert undo.exit_code == 0, undo.output
        assert dump(crm_url, "public_crm") == before
    finally:
        admin_execute(pg_admin_url, sql.SQL("drop database if exists {} with (force)").format(
            sql.Identifier(name)))


def test_receptionist_lookup_sees_published_ids(crm):
    url = crm["url"]
    assert crm["run"]("publish", "--apply").exit_code == 0
    phone, customer_id = query(url, "select phone_e164, customer_id from analytics.customers"
                                    " where customer_id in (select customer_id from"
                                    " crm.leads_master) order by customer_id limit 1")[0]
    linked = {row[0] for row in query(url, "select id from crm.leads_master"
                                           " where customer_id = %s", (customer_id,))}
    assert linked
    assert crm["run"]("crm", "install").exit_code == 0
    result = crm["run"]("lookup", phone, "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["customer"]["id"] == customer_id
    # the lookup reads the CRM as it is now: every lead publish linked to the customer
    assert linked <= {lead["id"] for lead in answer["leads"]}
    assert query(url, "select id from crm.customers where phone_number_normalized = %s",
                 (phone,)) == [(customer_id,)]


def test_after_a_rebuild_only_merges_with_work_left_are_staged(crm):
    """A merge published in full (marked, no lead on the duplicate) is not staged by the next
    build's publish, nor a customer publish would leave as it is (its E.164 held by its
    duplicate); a merge the app puts a lead on again is, and that lead is repointed."""
    url = crm["url"]
    # a duplicate that stores its person's number exactly as E.164: the survivor's phone cannot
    # be rewritten to it (the column is unique), so publish leaves the survivor's as it is
    holder_id, e164 = query(url, "select merged_customer_id, phone_e164"
                                 " from analytics.customer_merges where merged_phone_raw <> phone_e164"
                                 " order by merged_customer_id desc limit 1")[0]
    admin_execute(url, sql.SQL("update crm.customers set phone_number_normalized = {}"
                               " where id = {}").format(sql.Literal(e164), sql.Literal(holder_id)))
    assert crm["run"]("dbt", "build", "--exclude", "resource_type:unit_test").exit_code == 0
    first = crm["run"]("publish", "--apply", "--archive-unlinkable")
    assert first.exit_code == 0, first.output
    built = crm["run"]("dbt", "build", "--exclude", "resource_type:unit_test")
    assert built.exit_code == 0, built.output
    # everything publish can write is written: no customer left to compare, though survivors
    # whose E.164 their marked duplicate holds keep their phone in another writing
    held = query(url, """
        select count(*) from analytics.customers as mart
        inner join crm.customers as crm_customer on crm_customer.id = mart.customer_id
        where crm_customer.phone_number_normalized <> mart.phone_e164 and exists (
            select from crm.customers as holder
            where holder.phone_number_normalized = mart.phone_e164 and holder.id <> mart.customer_id)
        """)[0][0]
    assert held > 0
    assert query(url, "select count(*) from analytics.publish_customers_baseline") == [(0,)]
    plan = json.loads(crm["run"]("publish", "--json").stdout)
    assert plan["staged"]["pub_merges"] == 0
    assert plan["staged"]["pub_lead_links"] == 0
    # customers: only those the CRM lacks and those whose values the mart would change (the
    # baseline holds just those), not every customer
    differing = query(url, "select count(*) from analytics.publish_customers_baseline")[0][0]
    missing = query(url, "select count(*) from analytics.customers where not is_in_crm")[0][0]
    assert plan["staged"]["pub_customers"] == differing + missing
    assert differing + missing < query(url, "select count(*) from crm.customers")[0][0] / 2
    assert query(url, "select count(*) from analytics.customer_merges"
                      " where is_marked_in_crm")[0][0] > 0

    merged_id, survivor_id = query(url, "select merged_customer_id, surviving_customer_id"
                                        " from analytics.customer_merges order by 1 limit 1")[0]
    admin_execute(url, sql.SQL(
        "insert into crm.leads_master (full_name, phone_number_normalized, source_id, status,"
        " customer_id) select 'Walk In', phone_number_normalized, 3, 'New', id"
        " from crm.customers where id = {}").format(sql.Literal(merged_id)))
    rebuilt = crm["run"]("dbt", "build", "--exclude", "resource_type:unit_test")
    assert rebuilt.exit_code == 0, rebuilt.output
    plan = json.loads(crm["run"]("publish", "--json").stdout)
    assert plan["staged"]["pub_merges"] == 1
    applied = crm["run"]("publish", "--apply")
    assert applied.exit_code == 0, applied.output
    assert query(url, "select customer_id from crm.leads_master where full_name = 'Walk In'") == [
        (survivor_id,)]

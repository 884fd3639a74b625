"""`leadlink publish` behind a real PgBouncer in transaction mode (what Supabase's pooler on 6543
is) while other clients take the backends between its transactions; an undo after the CRM team
changed its tables; an undo that fails once on a lock and is resumed."""

from __future__ import annotations

import json
import threading

import psycopg2
from dbhelpers import query
from publish_fixtures import crm, dump, template_db  # noqa: F401

SCRATCH = ("select count(*) from pg_class where relnamespace = to_regnamespace('leadlink_publish')"
           " and relname ~ '^r[0-9a-f]{10}_'")


class Chatter:
    """Clients running short transactions through the pooler, so backends change hands."""

    def __init__(self, url: str, clients: int = 3) -> None:
        self.url, self.stop, self.queries, self.backends = url, threading.Event(), 0, set()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(clients)]

    def run(self) -> None:
        conn = psycopg2.connect(self.url)
        conn.autocommit = True
        try:
            while not self.stop.is_set():
                with conn.cursor() as cursor:
                    cursor.execute("select pg_backend_pid(), count(*) from crm.sources")
                    self.backends.add(cursor.fetchone()[0])
                self.queries += 1
        finally:
            conn.close()

    def __enter__(self) -> Chatter:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)


def test_publish_and_undo_through_a_transaction_pooler(crm, pgbouncer):
    url = crm["url"]
    pooled = {"LEADLINK_DATABASE_URL": pgbouncer.url_for(url)}
    before = dump(url)
    with Chatter(pgbouncer.url_for(url)) as chatter:
        dry = crm["run"]("publish", "--json", extra=pooled)
        assert dry.exit_code == 0, dry.output
        applied = crm["run"]("publish", "--apply", "--archive-unlinkable", "--json", extra=pooled)
        assert applied.exit_code == 0, applied.output
        result = json.loads(applied.stdout)
        again = crm["run"]("publish", "--apply", "--archive-unlinkable", "--json", extra=pooled)
        assert again.exit_code == 0, again.output
        undo_again = crm["run"]("publish", "--undo", str(json.loads(again.stdout)["batch_id"]),
                                extra=pooled)
        assert undo_again.exit_code == 0, undo_again.output
        undone = crm["run"]("publish", "--undo", str(result["batch_id"]), extra=pooled)
        assert undone.exit_code == 0, undone.output
    assert chatter.queries > 50 and len(chatter.backends) > 1
    counts = result["counts"]
    assert counts["leads_linked"] == (result["plan"]["leads_master"]["set_customer_id"]
                                      + result["plan"]["leads_master"]["change_customer_id"]) > 0
    assert counts["customers_inserted"] == result["plan"]["customers"]["insert"]
    assert {item["state"] for item in result["constraints"]} == {"added"}
    assert dump(url) == before
    # nothing of the runs survives: no lock row, no scratch table, every batch settled
    assert query(url, "select count(*) from raw.locks where lock_name = 'publish'") == [(0,)]
    assert query(url, SCRATCH) == [(0,)]
    assert query(url, "select status, count(*) from leadlink_publish.batches group by 1") == [
        ("undone", 2)]


def test_undo_after_the_crm_changed_its_tables(crm):
    url = crm["url"]
    customers = "select id, phone_number_normalized, full_name, email, city from crm.customers order by id"
    leads = "select id, customer_id, full_name, status, source_id from crm.leads_master order by id"
    history = "select lead_id, external_id from crm.lead_sources_history order by 1, 2"
    before = [query(url, statement) for statement in (customers, leads, history)]
    applied = crm["run"]("publish", "--apply", "--archive-unlinkable", "--json")
    assert applied.exit_code == 0, applied.output
    batch = json.loads(applied.stdout)["batch_id"]
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cursor:  # the CRM team's migration (leadlink's views go with it)
        cursor.execute("alter table crm.leads_master drop column alternate_phone_number cascade")
        cursor.execute("alter table crm.customers add column loyalty_tier text default 'none'")
    conn.close()
    undone = crm["run"]("publish", "--undo", str(batch), "--json")
    assert undone.exit_code == 0, undone.output
    assert [query(url, statement) for statement in (customers, leads, history)] == before
    assert query(url, "select count(*) from crm.customers where loyalty_tier is distinct from"
                      " 'none'") == [(0,)]
    assert query(url, "select attnotnull from pg_attribute where attrelid ="
                      " 'crm.leads_master'::regclass and attname = 'customer_id'") == [(False,)]
    assert query(url, "select count(*) from pg_constraint where conrelid ="
                      " 'crm.leads_master'::regclass and contype = 'f'"
                      " and conname = 'leads_master_customer_id_fkey'") == [(0,)]
    assert query(url, "select status from leadlink_publish.batches where batch_id = %s",
                 (batch,)) == [("undone",)]


def test_an_undo_that_fails_on_a_lock_is_resumed(crm, monkeypatch):
    from leadlink.crm.publish import target

    url = crm["url"]
    before = dump(url)
    applied = crm["run"]("publish", "--apply", "--archive-unlinkable", "--json")
    assert applied.exit_code == 0, applied.output
    batch = json.loads(applied.stdout)["batch_id"]
    monkeypatch.setattr(target, "DEFAULT_ATTEMPTS", 1)
    app = psycopg2.connect(url)
    try:
        with app.cursor() as cursor:  # the app holds customers (and so the FK's DDL) a while
            cursor.execute("lock table crm.customers in access exclusive mode")
        failed = crm["run"]("publish", "--undo", str(batch),
                            extra={"LEADLINK_PUBLISH_LOCK_TIMEOUT_MS": "100"})
    finally:
        app.rollback()
        app.close()
    assert failed.exit_code == 1, failed.output
    assert "run publish again to resume" in failed.output
    assert query(url, "select status, figures ? 'last_error' from leadlink_publish.batches"
                      " where batch_id = %s", (batch,)) == [("undo_failed", True)]
    assert query(url, "select count(*) from raw.locks where lock_name = 'publish'") == [(0,)]
    resumed = crm["run"]("publish", "--undo", str(batch))
    assert resumed.exit_code == 0, resumed.output
    assert dump(url) == before
    assert query(url, "select status from leadlink_publish.batches where batch_id = %s",
                 (batch,)) == [("undone",)]

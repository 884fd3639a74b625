"""Incremental identity runs equal a --full-refresh build on the same data, step after step.

One database: the samples landed in parts, each step followed by an incremental `dbt run` into
the `analytics` schemas and a `dbt run --full-refresh` of the same project into a second set of
schemas (`analytics_full`, LEADLINK_ANALYTICS_SCHEMA), which read the same raw and CRM tables.
After each step every identity mart and every mart kept up to date from the CRM's writes (the
readiness facts and checks, the customers baseline) must be equal row for row, and the
incremental run must have rebuilt only part of the people (int_identity_people), not everything.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from dbhelpers import PROJECT_DIR, admin_execute, cli_env, invoke, query, with_database
from psycopg2 import sql

SAMPLES = PROJECT_DIR / "samples"
MARTS = {"customers": "customer_id", "leads": "lead_id", "lead_touches": "touch_id",
         "unlinkable_leads": "lead_id", "customer_merges": "merged_customer_id",
         # kept up to date from the CRM rows written since the last run (int_crm_written_rows)
         "leads_master_customer_id_changes": "legacy_lead_id",
         "readiness_failing_leads": "legacy_lead_id", "publish_customers_baseline": "customer_id"}
# a look-back of 6 s (the samples land within seconds of each other), the same in every
# invocation so dbt's partial parsing holds
VARS = ["--vars", "{incremental_lookback_minutes: 0.1}"]
# the identity models, the marts kept from the CRM's writes, and what they read
IDENTITY = ["--select", "+int_identity_checkpoint", "phone_aliases", "readiness_checks",
            "--resource-type", "model",
            "--resource-type", "seed", *VARS]


class Steps:
    def __init__(self, url: str, home: Path) -> None:
        self.url = url
        self.env = cli_env(url, home)
        self.full_env = {**cli_env(url, home / "full"), "LEADLINK_ANALYTICS_SCHEMA": "analytics_full"}

    def cli(self, *args: str, full: bool = False) -> str:
        result = invoke(self.full_env if full else self.env, *args)
        assert result.exit_code == 0, result.output[-4000:]
        return result.output

    def execute(self, statement: str, params: tuple = ()) -> None:
        conn = psycopg2.connect(self.url)
        with conn, conn.cursor() as cursor:
            cursor.execute(statement, params)
        conn.close()

    def load(self, source: str, *paths: Path) -> None:
        self.cli("load", "file", "--source", source, *(str(path) for path in paths))

    def marts(self, schema: str) -> dict[str, list[str]]:
        return {mart: [row[0] for row in query(
            self.url, f"select t::text from {schema}.{mart} as t order by {key}")]
            for mart, key in MARTS.items()}

    def build_and_compare(self, *incremental_vars: str) -> dict:
        """Incremental run, full refresh into the second schemas, compare; returns what changed."""
        self.cli("dbt", "build", *IDENTITY, *incremental_vars)
        batch = query(self.url, "select is_everything from analytics_intermediate.int_identity_batch")
        people = query(self.url, "select count(*) from analytics_intermediate.int_identity_people")
        self.cli("dbt", "build", "--full-refresh", *IDENTITY, full=True)
        incremental, refreshed = self.marts("analytics"), self.marts("analytics_full")
        for mart in MARTS:
            assert incremental[mart] == refreshed[mart], f"{mart} differs from --full-refresh"
        checks = "select check_name, failing_rows from {}.readiness_checks order by check_order"
        assert query(self.url, checks.format("analytics")) == query(
            self.url, checks.format("analytics_full")), "readiness_checks differ from --full-refresh"
        aliases = set(query(self.url, "select phone_raw, phone_e164 from analytics.phone_aliases"))
        assert set(query(self.url, "select phone_raw, phone_e164 from analytics_full.phone_aliases")
                   ) <= aliases
        total = query(self.url, "select count(*) from analytics.customers")[0][0]
        return {"everything": batch[0][0], "people": people[0][0], "customers": total,
                "marts": incremental}


@pytest.fixture(scope="module")
def steps(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Steps]:
    name = f"equivalence_{uuid.uuid4().hex[:10]}"
    admin_execute(pg_admin_url, sql.SQL("create database {}").format(sql.Identifier(name)))
    steps = Steps(with_database(pg_admin_url, name), tmp_path_factory.mktemp("equivalence"))
    legacy = SAMPLES / "legacy"
    steps.cli("load", "legacy", "--leads", str(legacy / "leads_master.csv"),
              "--customers", str(legacy / "customers.csv"), "--sources", str(legacy / "sources.csv"),
              "--history", str(legacy / "lead_sources_history.csv"))
    # the column a first `publish --apply` adds, so that a step can mark a merge as publish does
    steps.execute("alter table crm.customers add column merged_into_customer_id bigint")
    pages = sorted((SAMPLES / "knowlarity").glob("calllog_page_*.json"))
    steps.load("knowlarity", *pages[:2])
    steps.load("meta", *sorted((SAMPLES / "meta").glob("leads_page_*.json"))[:3])
    steps.cli("dbt", "build", *IDENTITY)
    yield steps
    admin_execute(pg_admin_url, sql.SQL("drop database if exists {} with (force)").format(
        sql.Identifier(name)))


def _changed_version(steps: Steps, home: Path) -> Path:
    """A new version of a Meta lead already built: another city."""
    payload = query(steps.url, "select payload from raw.meta_leads where payload ? 'field_data'"
                               " order by lead_id limit 1")[0][0]
    payload["field_data"] = [answer for answer in payload["field_data"]
                             if answer["name"].lower() != "city"]
    payload["field_data"].append({"name": "city", "values": ["Shivamogga"]})
    path = home / "changed_lead.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def _known_phone(steps: Steps) -> tuple[str, str]:
    """A person with a CRM lead, and their number written another way (national with a 0)."""
    phone, lead_id = query(steps.url, """
        select phone_e164, legacy_lead_id from analytics.leads
        where phone_e164 like '+91%%' and legacy_lead_id is not null
        order by legacy_lead_id limit 1""")[0]
    return phone, f"0{phone[3:]}"


def _call(uuid_: str, phone: str, start: str) -> dict:
    return {"uuid": uuid_, "customer_number": phone, "knowlarity_number": "+918069001001",
            "start_time": start, "call_duration": 60, "business_call_type": "Call Group",
            "Call_Type": 0}


def test_each_incremental_step_equals_a_full_refresh(steps: Steps, tmp_path: Path) -> None:
    pages = sorted((SAMPLES / "knowlarity").glob("calllog_page_*.json"))
    meta = sorted((SAMPLES / "meta").glob("*.json*"))

    # 1. new calls and Meta leads, for known people and new ones; a redelivered page (nothing
    #    new lands) and a changed version of a Meta lead already built
    steps.load("knowlarity", *pages[2:], SAMPLES / "knowlarity" / "webhooks.jsonl")
    steps.load("meta", *meta)
    steps.load("knowlarity", pages[0])
    steps.load("meta", _changed_version(steps, tmp_path))
    first = steps.build_and_compare()
    assert not first["everything"]
    assert "Shivamogga" in " ".join(first["marts"]["customers"])

    # 2. a late record: landed before the last run's watermark (its transaction committed late),
    #    found by the look-back; a CRM edit (status, phone, a customer's city); a merge caused
    #    by a new writing of a known number: the CRM app creates a second customer for the
    #    person and a call comes in from that writing
    phone, other_writing = _known_phone(steps)
    late = tmp_path / "late.jsonl"
    late.write_text(json.dumps(_call("late-0001", other_writing, "2025-12-02 10:00:00+05:30"))
                    + "\n", encoding="utf-8")
    steps.load("knowlarity", late)
    steps.execute("""
        update raw.knowlarity_calls
        set landed_at = (select max(last_landed_at) - interval '3 seconds'
                         from analytics_staging.stg_knowlarity__calls)
        where call_uuid = 'late-0001'""")
    steps.execute("""
        update crm.leads_master set status = 'Qualified', updated_at = now()
        where id = (select min(id) from crm.leads_master where status = 'Pending')""")
    steps.execute("""
        update crm.leads_master set phone_number_normalized = '9845098450', updated_at = now()
        where id = (select max(id) from crm.leads_master where phone_number_normalized <> '')""")
    steps.execute("update crm.customers set city = 'Hubballi', updated_at = now()"
                  " where id = (select min(id) from crm.customers)")
    merged_phone = query(steps.url, """
        select phone_e164 from analytics.customers
        where is_in_crm and phone_e164 like '+91%%' and phone_e164 <> %s
        order by customer_id desc limit 1""", (phone,))[0][0]
    merged_writing = "91" + merged_phone[3:]
    steps.execute("insert into crm.customers (id, phone_number_normalized, full_name, created_at,"
                  " updated_at) values (900001, %s, 'Second Record', now(), now())",
                  (merged_writing,))
    merge_call = tmp_path / "merge.jsonl"
    merge_call.write_text(json.dumps(_call("merge-0001", merged_writing,
                                           "2025-12-03 09:00:00+05:30")) + "\n", encoding="utf-8")
    steps.load("knowlarity", merge_call)
    second = steps.build_and_compare()
    assert not second["everything"]
    assert query(steps.url, "select count(*) from analytics.lead_touches"
                            " where touch_id = 'knowlarity:late-0001' and phone_e164 = %s",
                 (phone,)) == [(1,)]
    assert query(steps.url, "select surviving_customer_id is not null from analytics.customer_merges"
                            " where merged_customer_id = 900001") == [(True,)]

    # 3. a lead closed as Lost, then a call from that person: a new lead; a CRM lead deleted
    #    (archived); a history row filed for a call (publish's case C, at the call's own time)
    lead_id, lost_phone = query(steps.url, """
        select legacy_lead_id, phone_e164 from analytics.leads
        where legacy_lead_id is not null and phone_e164 like '+91%%' and touch_count > 1
        order by legacy_lead_id limit 1""")[0]
    steps.execute("update crm.leads_master set status = 'Lost', updated_at = now() where id = %s",
                  (lead_id,))
    after = tmp_path / "after_lost.jsonl"
    after.write_text(json.dumps(_call("lost-0001", lost_phone, "2030-01-01 10:00:00+05:30"))
                     + "\n", encoding="utf-8")
    steps.load("knowlarity", after)
    deleted = query(steps.url, """
        select max(id) from crm.leads_master as lm
        where not exists (select from crm.lead_sources_history as h where h.lead_id = lm.id)""")[0][0]
    steps.execute("delete from crm.leads_master where id = %s", (deleted,))
    steps.execute("""
        insert into crm.lead_sources_history (lead_id, source_id, external_id, received_at,
                                              is_primary)
        select lm.id, src.id, touch.external_id, touch.touched_at, false
        from analytics.lead_touches as touch
        inner join analytics.leads as lead on lead.lead_id = touch.lead_id
        inner join crm.leads_master as lm on lm.id = lead.legacy_lead_id
        cross join lateral (select min(id) as id from crm.sources
                            where source_type = 'knowlarity_call') as src
        where touch.touch_origin = 'intake' and touch.source = 'knowlarity'
            and touch.touch_type <> 'new_lead'
        order by touch.touch_id limit 1""")
    # publish's own writes, which leave updated_at alone: a lead repointed from a merged
    # duplicate to its survivor, and a duplicate no lead points at deleted
    merged_id, survivor_id, lead_on_duplicate = query(steps.url, """
        select merged_customer_id, surviving_customer_id, leads_master_ids[1]
        from analytics.customer_merges where leads_master_count > 0
        order by merged_customer_id limit 1""")[0]
    steps.execute("update crm.leads_master set customer_id = %s where id = %s",
                  (survivor_id, lead_on_duplicate))
    lone_duplicate = query(steps.url, """
        select merged_customer_id from analytics.customer_merges
        where leads_master_count = 0 and merged_customer_id <> %s
        order by merged_customer_id limit 1""", (merged_id,))[0][0]
    steps.execute("delete from crm.customers where id = %s", (lone_duplicate,))
    # publish marking a merge, and the app putting a lead on another duplicate, also without
    # updated_at: customer_merges compares its rows with the CRM's live ones
    pairs = query(steps.url, """
        select merged_customer_id, surviving_customer_id from analytics.customer_merges
        where merged_customer_id not in (%s, %s) and not is_marked_in_crm
        order by merged_customer_id limit 2""", (merged_id, lone_duplicate))
    (marked_id, marked_survivor), (other_id, other_survivor) = pairs
    steps.execute("update crm.customers set merged_into_customer_id = %s where id = %s",
                  (marked_survivor, marked_id))
    lead_put_on_duplicate = query(steps.url, "select min(id) from crm.leads_master"
                                             " where customer_id = %s", (other_survivor,))[0][0]
    assert lead_put_on_duplicate is not None
    steps.execute("update crm.leads_master set customer_id = %s where id = %s",
                  (other_id, lead_put_on_duplicate))
    # and staff attaching a customer to an unlinkable CRM lead by hand (the queue shows it)
    unlinkable_lead = query(steps.url, """
        select legacy_lead_id from analytics.unlinkable_leads
        where legacy_lead_id is not null and crm_customer_id is null
        order by legacy_lead_id limit 1""")[0][0]
    steps.execute("update crm.leads_master set customer_id = %s where id = %s",
                  (marked_survivor, unlinkable_lead))
    third = steps.build_and_compare()
    assert query(steps.url, "select crm_customer_id from analytics.unlinkable_leads"
                            " where legacy_lead_id = %s", (unlinkable_lead,)) == [(marked_survivor,)]
    assert query(steps.url, "select merged_customer_id, is_marked_in_crm,"
                            " %s = any(leads_master_ids) from analytics.customer_merges"
                            " where merged_customer_id in (%s, %s) order by 1",
                 (lead_put_on_duplicate, marked_id, other_id)) == sorted(
        [(marked_id, True, False), (other_id, False, True)])
    assert query(steps.url, "select count(*) from analytics.customer_merges"
                            " where merged_customer_id = %s", (lone_duplicate,)) == [(0,)]
    assert lead_on_duplicate not in query(steps.url, "select leads_master_ids from analytics.customer_merges"
                                                     " where merged_customer_id = %s", (merged_id,))[0][0]
    # part of the people: this step's, and those of the records inside each source's look-back
    # (the samples' Meta leads all landed within seconds of the last one)
    assert not third["everything"] and 0 < third["people"] < third["customers"]
    assert query(steps.url, "select lead_id from analytics.lead_touches"
                            " where touch_id = 'knowlarity:lost-0001'") == [("knowlarity:lost-0001",)]
    assert query(steps.url, "select count(*) from analytics.leads where legacy_lead_id = %s",
                 (deleted,)) == [(0,)]


# an hour's look-back, as in production: everything the steps above wrote is inside it; and a
# burst counts as many written rows from ten on (crm_written_many), so its other plans run too
HOUR = ["--vars", "{incremental_lookback_minutes: 60, crm_written_many: 10}"]


def test_rows_a_completed_run_read_are_not_changes_again_inside_the_look_back(steps: Steps) -> None:
    """After a burst of CRM writes (what a publish does to 500,000 rows), the next runs key only
    what is new, though the whole burst is inside the look-back; a run that stopped half way
    leaves nothing behind for the next one."""
    steps.build_and_compare(*HOUR)
    # publish's own burst, which leaves updated_at alone: every lead written, one of them
    # repointed from a merged duplicate to its survivor (found as many written rows: the
    # duplicate's row is found by hashing the written ids, not by the GIN index)
    merged_id, survivor_id, lead_on_duplicate = query(steps.url, """
        select merged_customer_id, surviving_customer_id, leads_master_ids[1]
        from analytics.customer_merges where leads_master_count > 0
        order by merged_customer_id limit 1""")[0]
    steps.execute("update crm.leads_master set customer_id = customer_id")
    steps.execute("update crm.leads_master set customer_id = %s where id = %s",
                  (survivor_id, lead_on_duplicate))
    steps.build_and_compare(*HOUR)
    assert query(steps.url, "select %s = any(leads_master_ids) from analytics.customer_merges"
                            " where merged_customer_id = %s", (lead_on_duplicate, merged_id)
                 ) == [(False,)]
    # the burst: every customer and every lead rewritten (as publish's set / repoint does)
    steps.execute("update crm.customers set updated_at = now()")
    steps.execute("update crm.leads_master set updated_at = now()")
    burst = steps.build_and_compare(*HOUR)
    crm_people = query(steps.url, "select count(distinct phone_e164) from"
                                  " analytics_intermediate.int_touches_unioned"
                                  " where touch_origin = 'crm_lead'")[0][0]
    assert not burst["everything"] and burst["people"] >= crm_people > 10
    # nothing new: the burst is inside the hour's look-back, yet nobody is keyed again
    quiet = steps.build_and_compare(*HOUR)
    assert not quiet["everything"] and quiet["people"] == 0

    # a run that stopped after int_touches_unioned (its checkpoint not written): the edit it
    # keyed there is keyed again by the next run, which then equals a full refresh
    lead_id, phone = query(steps.url, """
        select legacy_lead_id, phone_e164 from analytics.leads
        where legacy_lead_id is not null and phone_e164 like '+91%%' and status <> 'Lost'
        order by legacy_lead_id desc limit 1""")[0]
    steps.execute("update crm.leads_master set status = 'Lost', updated_at = now() where id = %s",
                  (lead_id,))
    steps.cli("dbt", "build", "--select", "+int_touches_unioned", "--resource-type", "model", *HOUR)
    assert query(steps.url, "select status from analytics_intermediate.int_touches_unioned"
                            " where touch_origin = 'crm_lead' and legacy_lead_id = %s",
                 (lead_id,)) == [("Lost",)]
    resumed = steps.build_and_compare(*HOUR)
    assert 0 < resumed["people"] < resumed["customers"]
    assert query(steps.url, "select status from analytics.leads where legacy_lead_id = %s",
                 (lead_id,)) == [("Lost",)]
    assert query(steps.url, "select count(*) from analytics_intermediate.int_identity_people"
                            " where phone_e164 = %s", (phone,)) == [(1,)]


def test_a_live_build_tests_the_rows_it_rebuilt_and_dbt_test_reads_every_row(
        steps: Steps, tmp_path: Path) -> None:
    """data_test_scope: the data tests of a live `dbt build` read only the rows the build made
    again (for int_phone_numbers, the strings it parsed); `dbt test`, the var full_data_tests and
    --full-refresh read every row."""
    target = tmp_path / "target"
    env = {**steps.env, "DBT_TARGET_PATH": str(target)}
    # a call landed after the look-back (6 s) so that the next build reads none of the earlier
    time.sleep(7)
    filler = tmp_path / "filler_call.jsonl"
    filler.write_text(json.dumps(_call("scope-0000", "+919845099000", "2025-12-05 09:00:00+05:30"))
                      + "\n", encoding="utf-8")
    steps.load("knowlarity", filler)
    assert invoke(env, "dbt", "build", *VARS).exit_code == 0
    # a lead the next build keeps as built, with a customer that does not exist
    lead_id, customer_id = query(steps.url, """
        select lead_id, customer_id from analytics.leads
        where customer_id is not null order by lead_id limit 1""")[0]
    steps.execute("update analytics.leads set customer_id = -1 where lead_id = %s", (lead_id,))
    # and a parsed phone string with a reason the normaliser never gives (strings never change:
    # a live build tests only the strings it parsed)
    old_string = query(steps.url, "select phone_raw from analytics_intermediate.int_phone_numbers"
                                  " where unusable_reason = 'invalid' order by phone_raw limit 1")[0][0]
    steps.execute("update analytics_intermediate.int_phone_numbers set unusable_reason = 'bogus'"
                  " where phone_raw = %s", (old_string,))
    # and the touch of the call landed first, a record the next build neither reads nor keys again
    old_call = query(steps.url, """
        select call_uuid from analytics_staging.stg_knowlarity__calls
        order by last_landed_at, call_uuid limit 1""")[0][0]
    steps.execute("create table analytics.scope_saved_touch as select * from analytics.lead_touches"
                  " where source = 'knowlarity' and external_id = %s", (old_call,))
    steps.execute("delete from analytics.lead_touches where source = 'knowlarity'"
                  " and external_id = %s", (old_call,))
    try:
        calls = tmp_path / "scope_calls.jsonl"
        calls.write_text(json.dumps(_call("scope-0001", "+919845099001", "2025-12-05 10:00:00+05:30"))
                         + "\n", encoding="utf-8")
        steps.load("knowlarity", calls)
        live = invoke(env, "dbt", "build", *VARS)
        assert live.exit_code == 0, live.output[-3000:]
        assert query(steps.url, "select is_everything from analytics_intermediate.int_identity_batch"
                     ) == [(False,)]
        compiled = next((target / "run").rglob("relationships_leads_customer_id__*.sql")).read_text()
        assert "int_identity_leads" in compiled  # the scope, read by the test
        assert query(steps.url, "select count(*) from analytics.lead_touches"
                                " where source = 'knowlarity' and external_id = %s", (old_call,)
                     ) == [(0,)]  # still missing: the live build did not check that record
        assert query(steps.url, "select count(*) from analytics.leads where lead_id = %s"
                                " and customer_id = -1", (lead_id,)) == [(1,)]  # kept as built

        every_row = invoke(env, "dbt", "test", "--select", "leads", *VARS)
        assert every_row.exit_code != 0
        assert "relationships_leads_customer_id" in every_row.output
        phones = invoke(env, "dbt", "test", "--select", "int_phone_numbers", *VARS)
        assert phones.exit_code != 0
        assert "accepted_values_int_phone_numbers_unusable_reason" in phones.output
        singular = invoke(env, "dbt", "test", "--select", "assert_every_record_is_a_touch", *VARS)
        assert singular.exit_code != 0
        assert "Got 1 result" in singular.output, singular.output[-3000:]
        full_vars = ["--vars", "{incremental_lookback_minutes: 0.1, full_data_tests: true}"]
        assert invoke(env, "dbt", "build", "--select", "leads", *full_vars).exit_code != 0
    finally:
        steps.execute("update analytics.leads set customer_id = %s where lead_id = %s",
                      (customer_id, lead_id))
        steps.execute("update analytics_intermediate.int_phone_numbers set unusable_reason ="
                      " 'invalid' where phone_raw = %s", (old_string,))
        steps.execute("insert into analytics.lead_touches select * from analytics.scope_saved_touch")
        steps.execute("drop table analytics.scope_saved_touch")


def test_a_horizon_this_server_has_not_reached_rebuilds_everything(steps: Steps) -> None:
    """A database restored from a dump into another cluster keeps leadlink's checkpoint, whose
    write horizon may lie ahead of the new cluster's transaction ids: compared with it, every row
    would look older than the last run, and a CRM edit made without `updated_at` would be missed.
    Such a horizon makes the run rebuild everything, which then equals a full refresh."""
    steps.build_and_compare(*HOUR)
    server_horizon = query(steps.url, "select cast(cast(pg_snapshot_xmin(pg_current_snapshot())"
                                      " as text) as bigint)")[0][0]
    steps.execute("update analytics_intermediate.int_identity_checkpoint"
                  " set crm_write_horizon = %s", (server_horizon + 50_000_000,))
    lead_id = query(steps.url, """
        select legacy_lead_id from analytics.leads
        where legacy_lead_id is not null and status <> 'Lost'
        order by legacy_lead_id limit 1""")[0][0]
    # as the app writes it: updated_at left alone
    steps.execute("update crm.leads_master set status = 'Lost' where id = %s", (lead_id,))
    restored = steps.build_and_compare(*HOUR)
    assert restored["everything"]
    assert query(steps.url, "select status from analytics.leads where legacy_lead_id = %s",
                 (lead_id,)) == [("Lost",)]
    # the checkpoint now holds this server's horizon: the next run is a live one again
    assert not steps.build_and_compare(*HOUR)["everything"]

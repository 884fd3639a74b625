"""`leadlink run --publish` and `leadlink run --every`: the cycle publishes what arrived; the loop
backs off when cycles fail, stops cleanly on SIGTERM, and under faults (two loops started by
mistake, kill -9 mid-publish, every database connection cut mid-cycle) every delivered call ends
up in the CRM exactly once, linked to a customer."""

from __future__ import annotations

import json
import subprocess
import threading
import time

import psycopg2
import pytest
from dbhelpers import query
from fakes import FakeKnowlarity
from livehelpers import (
    Workspace,
    assert_each_exactly_once,
    build_samples_template,
    crm_placement,
    fresh_calls,
    lock_rows,
    process_env,
    spawn,
    stop,
    wait_until,
)

from leadlink.pipeline import live
from leadlink.pipeline.live import next_delay, run_every
from leadlink.pipeline.scheduled_run import RunOptions

# models only: the data tests are the same with or without the loop, and cycles stay short
BUILD = {"LEADLINK_RUN_DBT_ARGS": "--exclude resource_type:test resource_type:unit_test"}


# --- the loop's rhythm, without a database ---------------------------------------------------------
def test_back_off_grows_with_failures_in_a_row_and_is_capped():
    assert next_delay(20, 5, 0) == 15  # start to start
    assert next_delay(20, 25, 0) == live.MIN_GAP_SECONDS  # a long cycle: no busy loop either
    assert [next_delay(20, 5, failures) for failures in (1, 2, 3, 4, 5, 6)] == [20, 40, 80, 160, 300, 300]
    assert next_delay(600, 1, 3) == 600  # the cap never shortens the configured period


class Recorder(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self.delays: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.delays.append(round(timeout or 0, 1))
        return self.is_set()


def test_a_failing_cycle_is_reported_and_the_next_one_tries_again(monkeypatch):
    codes = iter([1, 1, 75, 0, 1, 0])
    seen: list[dict] = []

    def fake_run_all(settings, prepare, run_dbt, options):
        assert options.forward_signals == ()  # SIGTERM stays with the loop: the cycle finishes
        code = next(codes)
        if code == 1 and len(seen) == 4:
            raise RuntimeError("a bug in one cycle")
        return {"status": "ok" if code == 0 else "failed", "exit_code": code, "sources": [],
                "skipped": [], "webhook_queue": None, "dbt_build": "ok", "publish": None}

    monkeypatch.setattr(live, "run_all", fake_run_all)
    stop_event = Recorder()
    assert run_every(None, None, None, RunOptions(), 10, seen.append, stop_event, max_cycles=6) == 0
    assert [summary["exit_code"] for summary in seen] == [1, 1, 75, 0, 1, 0]
    assert "a bug in one cycle" in seen[4]["message"]
    assert [summary["cycle"] for summary in seen] == [1, 2, 3, 4, 5, 6]
    # failures double the wait; a locked cycle (75) or a good one resets it
    assert stop_event.delays[:5] == [10, 20, 10, 10, 10]


# --- real loops on the samples --------------------------------------------------------------------
@pytest.fixture(scope="module")
def workspace(pg_admin_url, tmp_path_factory):
    template = build_samples_template(pg_admin_url, tmp_path_factory.mktemp("live-template"))
    space = Workspace(pg_admin_url, template, tmp_path_factory.mktemp("live-loop"))
    yield space
    space.close()


def summaries(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_run_publish_reports_the_publish_and_a_second_run_publishes_nothing_twice(workspace):
    """...and a cycle with nothing new skips its build and publish; --always-build does not."""
    url = workspace.fresh()
    calls = fresh_calls(6, "once")
    with FakeKnowlarity(calls) as fake:
        env = process_env(url, workspace.home, **fake.env(), **BUILD)
        first = spawn(env, "run", "--publish", "--json")
        out, err = first.communicate(timeout=600)
        assert first.returncode == 0, err[-3000:]
        summary = json.loads(out)
        assert summary["publish"]["status"] == "ok" and summary["publish"]["batch_id"]
        assert summary["publish"]["rows"]["3.leads.insert_new"] >= 6
        assert_each_exactly_once(url, [call["uuid"] for call in calls])
        # publish wrote to the CRM: what dbt reads changed, so this cycle builds again
        again = spawn(env, "run", "--publish")
        out, err = again.communicate(timeout=600)
        assert again.returncode == 0, err[-3000:]
        assert "publish ok" in out and "dbt build ok" in out
        assert_each_exactly_once(url, [call["uuid"] for call in calls])

        def cycle(*flags: str) -> dict:
            process = spawn(env, "run", "--publish", "--json", *flags)
            out, err = process.communicate(timeout=600)
            assert process.returncode == 0, err[-3000:]
            return json.loads(out)

        forced = cycle("--always-build")
        assert forced["dbt_build"] == "ok" and forced["publish"]["status"] == "ok"
        assert not any(forced["publish"]["rows"].values())  # the CRM holds it all already
        # nothing landed, nothing in the CRM changed: no build, no publish
        idle = cycle()
        assert idle["exit_code"] == 0 and idle["dbt_build"] == "skipped (nothing new)"
        assert idle["publish"]["status"] == "skipped" and "dbt_build" not in idle["phase_seconds"]
        # the app rewrites a customer without touching updated_at: the next cycle builds
        conn = psycopg2.connect(url)
        with conn, conn.cursor() as cursor:  # commits
            cursor.execute("update crm.customers set full_name = full_name"
                           " where id = (select min(id) from crm.customers)")
            assert cursor.rowcount == 1
        conn.close()
        edited = cycle()
        assert edited["dbt_build"] == "ok" and edited["publish"]["status"] == "ok"
    assert_each_exactly_once(url, [call["uuid"] for call in calls])


def _cut_connections(url: str, seconds: float) -> int:
    """Terminate every other backend of the database, again and again: what a database restart
    looks like to its clients."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    cut = 0
    deadline = time.monotonic() + seconds
    try:
        with conn.cursor() as cursor:
            while time.monotonic() < deadline:
                cursor.execute("select count(*) filter (where pg_terminate_backend(pid)) from pg_stat_activity"
                               " where datname = current_database() and pid <> pg_backend_pid()")
                cut += cursor.fetchone()[0]
                time.sleep(0.3)
    finally:
        conn.close()
    return cut


def _publish_holder_pid(url: str) -> int | None:
    rows = query(url, "select holder from raw.locks where lock_name like '%%publish%%'"
                      " and lease_until > clock_timestamp()")
    return int(rows[0][0].split(":")[1]) if rows else None


def _kill_a_loop_while_it_publishes(url: str, fake: FakeKnowlarity, loops: list[subprocess.Popen],
                                     delivered: list[str]) -> subprocess.Popen:
    """Deliver small batches until one of the loops is caught holding the publish lock, then kill -9
    it. Either loop may win a cycle's lock and a small publish is short, so a batch can be placed
    before the poll sees it: then the next batch gives another chance. Returns the killed loop."""
    by_pid = {loop.pid: loop for loop in loops}
    for attempt in range(12):
        batch = fresh_calls(8, f"faultkill{attempt}", seed=100 + attempt)
        ids = [call["uuid"] for call in batch]
        delivered.extend(ids)
        fake.add_calls(batch)

        def holder_or_placed(ids: list[str] = ids) -> object:
            for loop in loops:
                if loop.poll() is not None:
                    raise AssertionError(f"loop ended early ({loop.returncode})")
            holder = _publish_holder_pid(url)
            if holder in by_pid:
                return by_pid[holder]
            return "placed" if placed(url, ids) else None

        caught = wait_until(holder_or_placed, timeout=400, interval=0.01)
        if isinstance(caught, subprocess.Popen):
            caught.kill()
            caught.wait()
            return caught
    raise AssertionError("no loop was caught holding the publish lock in twelve batches")


def placed(url: str, ids: list[str]) -> bool:
    return all(leads + history for leads, history, _ in crm_placement(url, ids).values())


def test_loops_under_faults_lose_nothing_and_double_nothing(workspace):
    url = workspace.fresh()
    first, last = fresh_calls(8, "fault0", seed=0), fresh_calls(8, "fault2", seed=2)
    delivered = [call["uuid"] for call in first]
    with FakeKnowlarity(first) as fake:
        env = process_env(url, workspace.home, **fake.env(), **BUILD)
        loop_a = spawn(env, "run", "--every", "2", "--publish", "--json")
        loop_b = spawn(env, "run", "--every", "2", "--publish", "--json")  # started by mistake
        processes = [loop_a, loop_b]
        try:
            wait_until(lambda: placed(url, delivered), timeout=400, alive=loop_b)

            # kill -9 of a loop while it publishes; the killed one goes first in processes
            killed = _kill_a_loop_while_it_publishes(url, fake, [loop_a, loop_b], delivered)
            survivor = loop_b if killed is loop_a else loop_a
            processes = [killed, survivor]
            delivered.extend(call["uuid"] for call in last)

            # every connection cut, repeatedly, while the other loop's cycles run
            fake.add_calls(last)
            assert _cut_connections(url, 8.0) > 0
            loop_c = spawn(env, "run", "--every", "2", "--publish", "--json")  # the restarted one
            processes.append(loop_c)
            wait_until(lambda: placed(url, delivered), timeout=400, alive=survivor)
            assert_each_exactly_once(url, delivered)
            # one more cycle each after everything is in: still exactly once
            time.sleep(6)
        finally:
            outputs = [stop(process, timeout=300) for process in processes]
    assert_each_exactly_once(url, delivered)
    for process, (out, err) in zip(processes[1:], outputs[1:], strict=True):
        assert process.returncode == 0, err[-3000:]  # SIGTERM: the cycle in flight ends, exit 0
        assert summaries(out), err[-3000:]
        assert "Traceback" not in err, err[-6000:]
    cycles = summaries(outputs[1][0]) + summaries(outputs[2][0])
    assert any(summary["exit_code"] == 0 and summary["publish"] for summary in cycles)
    assert all(summary["exit_code"] in (0, 1, 75) for summary in cycles)
    wait_until(lambda: all(not alive for _, alive in lock_rows(url)), timeout=10)

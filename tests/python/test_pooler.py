"""Behind a real PgBouncer in transaction mode (what Supabase's pooler on 6543 is): overlapping
runs, a run killed with kill -9, and `leadlink serve` with its leadgen worker. Backends are shared
between clients here, so session state (advisory locks, temp tables, startup options) would leak or
vanish; locks are rows with a lease (2 s in these tests)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import httpx
import pytest
from dbhelpers import query
from fakes import FakeGraph, FakeKnowlarity
from livehelpers import (
    Workspace,
    build_samples_template,
    fresh_calls,
    lock_rows,
    process_env,
    spawn,
    stop,
    wait_until,
)

from leadlink.receiver.signature import meta_signature
from leadlink.runtime.ports import free_port

SECRET, TOKEN = "pooler-app-secret", "pooler-knowlarity-token"


# The CRM staging views are enough to collide on (two builds at once failed on
# `stg_crm__lead_sources_history__dbt_backup`), and build in seconds.
BUILD = {"LEADLINK_RUN_DBT_ARGS": "--select path:models/staging/crm"}


@pytest.fixture(scope="module")
def workspace(pg_admin_url, tmp_path_factory):
    template = build_samples_template(pg_admin_url, tmp_path_factory.mktemp("live-template"))
    space = Workspace(pg_admin_url, template, tmp_path_factory.mktemp("pooler"))
    yield space
    space.close()


@pytest.fixture
def pooled(workspace, pgbouncer):
    direct = workspace.fresh()
    return SimpleNamespace(direct=direct, url=pgbouncer.url_for(direct), home=workspace.home)


def test_two_overlapping_runs_one_exits_75_or_waits_never_1(pooled):
    with FakeKnowlarity(fresh_calls(40, "overlap")) as fake:
        env = process_env(pooled.url, pooled.home, **fake.env(), **BUILD)
        first = spawn(env, "run", "--json")
        wait_until(lambda: ("build", True) in lock_rows(pooled.direct), alive=first)
        second = spawn(env, "run", "--json")
        out2, err2 = second.communicate(timeout=120)
        waiting = spawn(env, "run", "--wait", "--json")
        out1, err1 = first.communicate(timeout=300)
        out3, err3 = waiting.communicate(timeout=300)
    assert first.returncode == 0, err1[-3000:]
    assert second.returncode == 75, err2[-3000:]
    busy = json.loads(out2)
    assert busy["dbt_build"].startswith("locked") and busy["exit_code"] == 75
    assert waiting.returncode == 0, err3[-3000:]
    assert json.loads(out3)["dbt_build"] == "ok"
    assert "already exists" not in err1 + err2 + err3
    assert query(pooled.direct, "select count(*), count(distinct call_uuid) from raw.knowlarity_calls"
                 " where call_uuid like 'overlap-%%'") == [(40, 40)]
    assert lock_rows(pooled.direct) == []  # every holder gave its lock back


def test_a_run_killed_mid_build_frees_its_lock_after_the_lease(pooled):
    env = process_env(pooled.url, pooled.home, KNOWLARITY_WEBHOOK_TOKEN=TOKEN, **BUILD)
    killed = spawn(env, "run")
    wait_until(lambda: ("build", True) in lock_rows(pooled.direct), alive=killed)
    wait_until(lambda: query(pooled.direct, "select count(*) from pg_stat_activity where"
                                            " datname = current_database() and application_name = 'dbt'")[0][0],
               timeout=120, interval=0.05, alive=killed)  # dbt is building
    killed.kill()
    killed.wait()
    assert [name for name, _ in lock_rows(pooled.direct)] == ["build"]  # outlives the process...
    wait_until(lambda: lock_rows(pooled.direct) == [("build", False)], timeout=10)  # ...not its lease
    again = spawn(env, "run", "--json")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-3000:]
    assert json.loads(out)["dbt_build"] == "ok"
    assert lock_rows(pooled.direct) == []


def test_serve_and_its_worker_behind_the_pooler(pooled):
    lead = {"id": "123456789012399", "created_time": "2025-12-06T07:52:10+0000",
            "form_id": "911000000000002", "platform": "fb", "is_organic": True,
            "field_data": [{"name": "full_name", "values": ["Asha Rao"]},
                           {"name": "phone_number", "values": ["+919845012345"]}]}
    with FakeGraph([], {}) as graph:
        graph.add_lead("911000000000002", lead)
        port = free_port()
        env = process_env(pooled.url, pooled.home, **graph.env(), META_APP_SECRET=SECRET,
                          META_VERIFY_TOKEN="verify", KNOWLARITY_WEBHOOK_TOKEN=TOKEN,
                          LEADLINK_WEBHOOK_POLL_SECONDS="0.3")
        server = spawn(env, "serve", "--port", str(port))
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: _healthy(base), timeout=60, alive=server)
            body = (b'{"object":"page","entry":[{"id":"1020304050","time":1765007533,"changes":[{"field":'
                    b'"leadgen","value":{"leadgen_id":"123456789012399","page_id":"1020304050",'
                    b'"form_id":"911000000000002","created_time":1765007530}}]}]}')
            calls = fresh_calls(30, "served")
            with httpx.Client(base_url=base, timeout=10) as http:
                answer = http.post("/webhooks/meta", content=body, headers={
                    "X-Hub-Signature-256": meta_signature(SECRET, body), "Content-Type": "application/json"})
                assert answer.status_code == 200, answer.text
                for call in calls:
                    answer = http.post("/webhooks/knowlarity", json=call, headers={"X-Leadlink-Token": TOKEN})
                    assert answer.status_code == 200, answer.text
            assert query(pooled.direct, "select count(*) from raw.knowlarity_calls"
                                        " where call_uuid like 'served-%%'") == [(30,)]
            wait_until(lambda: query(pooled.direct, "select status from raw.meta_leadgen_queue")
                       == [("done",)], timeout=60, alive=server)
            assert query(pooled.direct, "select lead_id from raw.meta_leads"
                                        " where landed_from = 'webhook'") == [("123456789012399",)]
        finally:
            out, err = stop(server)
    # uvicorn stops gracefully on SIGTERM and then re-raises it (-15) with a single worker
    assert server.returncode in (0, -15), err[-3000:]
    assert "Application shutdown complete" in err
    assert lock_rows(pooled.direct) == []


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False

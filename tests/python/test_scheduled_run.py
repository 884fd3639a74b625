"""The scheduled job and its safety: `leadlink run`, kill -9 in the middle, two runs at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from dbhelpers import query
from fakes import FakeGraph, FakeKnowlarity
from fakes.data import make_calls, make_leads

from loaders.state import source_lock

NOW = datetime(2025, 12, 6, 12, 0, tzinfo=UTC)
FAST = {"LEADLINK_HTTP_BACKOFF_BASE": "0.001", "LEADLINK_HTTP_MAX_SERVER_WAIT": "0.01",
        "LEADLINK_HTTP_TIMEOUT": "2", "LEADLINK_HTTP_MAX_ATTEMPTS": "6",
        "LEADLINK_LOCK_LEASE_SECONDS": "2"}
LEADLINK = str(Path(sys.executable).parent / "leadlink")
WINDOW = ["--since", "2025-12-04T00:00:00Z", "--until", NOW.isoformat()]


@pytest.fixture
def slow_knowlarity():
    """600 calls in pages of 10, each page answered after 40 ms: a load takes a few seconds."""
    with FakeKnowlarity(make_calls(600, NOW - timedelta(minutes=1), step=timedelta(minutes=2))) as fake:
        fake.before_page = lambda offset: time.sleep(0.04)
        yield fake


def spawn(leadlink_env, fake, *args: str) -> subprocess.Popen:
    env = {**os.environ, **leadlink_env, **fake.env(), **FAST,
           "LEADLINK_KNOWLARITY_PAGE_SIZE": "10"}
    return subprocess.Popen([LEADLINK, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def landed(url: str) -> tuple[int, int]:
    return query(url, "select count(*), count(distinct call_uuid) from raw.knowlarity_calls")[0]


def test_kill_9_in_the_middle_then_rerun_lands_everything_exactly_once(slow_knowlarity,
                                                                      leadlink_env, database_url):
    process = spawn(leadlink_env, slow_knowlarity, "load", "knowlarity", *WINDOW)
    deadline = time.monotonic() + 60
    while landed(database_url)[0] < 150 and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = landed(database_url)[0]
    assert 0 < partial < 600
    # the killed run's lock lives on until its lease (2 s here) runs out: --wait queues behind it
    again = spawn(leadlink_env, slow_knowlarity, "load", "knowlarity", "--wait", *WINDOW)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert landed(database_url) == (600, 600)
    assert f"already present {partial}" in out or "already present" in out
    # and a cursor run after that lands nothing new
    third = spawn(leadlink_env, slow_knowlarity, "load", "knowlarity", "--until", NOW.isoformat())
    out, err = third.communicate(timeout=120)
    assert third.returncode == 0 and "landed 0," in out, err
    assert landed(database_url) == (600, 600)


def test_two_runs_at_once_second_exits_75_or_waits(slow_knowlarity, leadlink_env, database_url):
    first = spawn(leadlink_env, slow_knowlarity, "load", "knowlarity", *WINDOW)
    time.sleep(0.3)
    while landed(database_url)[0] == 0:
        time.sleep(0.05)
    second = spawn(leadlink_env, slow_knowlarity, "load", "knowlarity", *WINDOW)
    out2, err2 = second.communicate(timeout=60)
    assert second.returncode == 75
    assert "another `leadlink load knowlarity` run holds" in err2 and "--wait" in err2
    waiting = spawn(leadlink_env, slow_knowlarity, "load", "knowlarity", "--wait", *WINDOW)
    out1, err1 = first.communicate(timeout=120)
    assert first.returncode == 0, err1
    out3, err3 = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err3
    assert "landed 0," in out3  # it ran after the first one finished
    assert landed(database_url) == (600, 600)


def test_lock_is_per_source(leadlink_env, database_url, run_cli, settings):
    lock = source_lock(settings, database_url, "meta", wait=False)
    try:
        with FakeKnowlarity(make_calls(5, NOW - timedelta(minutes=1))) as fake:
            ok = run_cli("load", "knowlarity", *WINDOW, extra_env=fake.env())
        assert ok.exit_code == 0, ok.stderr
        with FakeGraph([], {}) as graph:
            busy = run_cli("load", "meta", *WINDOW, extra_env=graph.env())
        assert busy.exit_code == 75
    finally:
        lock.release()
    assert query(database_url, "select count(*) from raw.locks")[0][0] == 0


@pytest.fixture
def fake_dbt(monkeypatch):
    calls: list[list[str]] = []
    outcome = {"code": 0}

    def run_dbt(settings, url, args, capture=False, stream=None, log_format=None, forward_signals=()):
        calls.append(list(args))
        if stream is not None:
            stream.write("dbt says hi\n")
        return SimpleNamespace(returncode=outcome["code"], stdout="", stderr="", signalled=None)

    monkeypatch.setattr("leadlink.cli.run.run_dbt", run_dbt)
    return SimpleNamespace(calls=calls, outcome=outcome)


def test_run_loads_configured_sources_and_names_the_skipped(leadlink_env, database_url, run_cli,
                                                           fake_dbt):
    with FakeKnowlarity(make_calls(8, datetime.now(UTC) - timedelta(minutes=5))) as fake:
        result = run_cli("run", "--json", extra_env={**fake.env(), "META_PAGE_ID": "",
                                                     "META_PAGE_ACCESS_TOKEN": ""})
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["skipped"] == ["meta"] and summary["dbt_build"] == "ok"
    knowlarity = summary["sources"][0]
    assert (knowlarity["source"], knowlarity["status"], knowlarity["landed"]) == ("knowlarity", "ok", 8)
    assert fake_dbt.calls == [["build"]]


def test_run_summary_line_and_exit_codes(leadlink_env, database_url, run_cli, fake_dbt):
    fresh = datetime.now(UTC) - timedelta(minutes=5)
    with FakeKnowlarity(make_calls(3, fresh)) as fake, \
            FakeGraph([{"id": "911000000000001", "status": "ACTIVE"}],
                      {"911000000000001": make_leads("911000000000001", 4, fresh)}) as graph:
        fake_dbt.outcome["code"] = 1
        failed = run_cli("run", extra_env={**fake.env(), **graph.env(), **FAST})
        assert failed.exit_code == 1
        line = failed.stdout.strip()
        assert "\n" not in line and line.startswith("leadlink run: failed (exit 1)")
        assert "knowlarity ok: landed 3" in line and "meta ok: landed 4" in line
        assert "dbt build failed" in line
        fake_dbt.outcome["code"] = 0
        graph.script.append("190")
        auth = run_cli("run", "--skip-dbt", extra_env={**fake.env(), **graph.env(), **FAST})
        assert auth.exit_code == 3 and "META_PAGE_ACCESS_TOKEN" in auth.stdout
        assert graph.token not in auth.stdout + auth.stderr


def test_run_with_nothing_configured_exits_3(leadlink_env, database_url, run_cli, fake_dbt):
    result = run_cli("run", "--skip-dbt", extra_env={"KNOWLARITY_API_KEY": "", "META_PAGE_ID": ""})
    assert result.exit_code == 3
    assert "skipped knowlarity, meta" in result.stdout


def test_progress_line_only_on_a_terminal():
    import io

    from loaders.progress import Progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        progress = Progress("knowlarity", stream=stream, min_interval=0)
        progress.update("offset 500/1000")
        progress.done()
    assert "\rknowlarity: offset 500/1000" in tty.getvalue()
    assert pipe.getvalue() == ""


def test_the_database_going_away_mid_cycle_is_a_failed_summary_not_a_traceback(monkeypatch, caplog):
    import psycopg2

    from leadlink.pipeline import scheduled_run

    def cut(*args, **kwargs):
        raise psycopg2.OperationalError("server closed the connection unexpectedly to"
                                        " postgresql://u:secret@db/x\n\tThis probably means")

    monkeypatch.setattr(scheduled_run, "run_cycle", cut)
    summary = scheduled_run.run_all(None, lambda settings: "postgresql://u:secret@db/x", None)
    assert summary["exit_code"] == 1 and summary["status"] == "failed"
    assert summary["message"].startswith(
        "database: OperationalError: server closed the connection unexpectedly")
    assert "secret" not in summary["message"] and "\n" not in summary["message"]
    assert any("server closed" in record.getMessage() for record in caplog.records)


def test_database_errors_of_a_load_and_of_publish_are_one_masked_line(monkeypatch):
    import psycopg2

    from leadlink.crm.publish import run as publish_run
    from leadlink.pipeline import publish_step, scheduled_run

    def cut(*args, **kwargs) -> None:
        raise psycopg2.OperationalError("could not insert +919845012345 into"
                                        " postgresql://u:secret@db/x\nDETAIL: Key (phone)=(9845012345)")

    outcome = scheduled_run.run_source("knowlarity", cut)
    assert (outcome.status, outcome.exit_code) == ("failed", 1)
    monkeypatch.setattr(publish_run, "apply", cut)
    published = publish_step.publish_changes(None, "postgresql://u:secret@db/x")
    assert published["exit_code"] == 1
    assert outcome.message.startswith("database: OperationalError: could not insert")
    assert published["message"].startswith("OperationalError: could not insert")
    for message in (outcome.message, published["message"]):
        assert "secret" not in message and "9845012345" not in message and "DETAIL" not in message
        assert "\n" not in message and message.count("OperationalError") == 1

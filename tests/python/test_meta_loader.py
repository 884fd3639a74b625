"""`leadlink load meta` against a fake Graph server on 127.0.0.1."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from dbhelpers import query
from fakes import FakeGraph
from fakes.data import make_leads

from loaders.http import RetryPolicy
from loaders.meta.client import GraphClient, GraphConfig
from loaders.meta.loader import load_meta
from loaders.settings import Settings

NOW = datetime(2025, 12, 6, 12, 0, tzinfo=UTC)
FAST = {"LEADLINK_HTTP_BACKOFF_BASE": "0.001", "LEADLINK_HTTP_MAX_SERVER_WAIT": "0.01",
        "LEADLINK_HTTP_TIMEOUT": "0.3", "LEADLINK_HTTP_MAX_ATTEMPTS": "6"}
FORMS = [
    {"id": "911000000000001", "name": "Hector test drive", "status": "ACTIVE", "locale": "en_US"},
    {"id": "911000000000002", "name": "Old campaign", "status": "ARCHIVED", "locale": "en_US"},
    {"id": "911000000000003", "name": "Paused", "status": "PAUSED", "locale": "en_US"},
    {"id": "911000000000004", "name": "Odd", "status": "SOMETHING_NEW", "locale": "en_US"},
]


@pytest.fixture
def graph():
    leads = {form["id"]: make_leads(form["id"], 9 + index * 5, NOW - timedelta(minutes=2))
             for index, form in enumerate(FORMS)}
    with FakeGraph(FORMS, leads, page_size=4) as server:
        yield server


def total_leads(graph: FakeGraph) -> int:
    return sum(len(rows) for rows in graph.leads.values())


def make_settings(leadlink_env, graph, **extra) -> Settings:
    return Settings.from_environ({**os.environ, **leadlink_env, **graph.env(), **extra})


def client_for(graph: FakeGraph, sleeps: list[float]) -> GraphClient:
    return GraphClient(GraphConfig(graph.url, graph.version, graph.page_id, graph.token),
                       RetryPolicy(timeout=0.3), sleep=sleeps.append)


def landed(url: str) -> list[str]:
    return [row[0] for row in query(url, "select lead_id from raw.meta_leads")]


def cursors(url: str) -> dict[str, datetime]:
    return dict(query(url, "select scope, cursor_at from raw.load_cursors where source = 'meta'"))


def test_every_form_whatever_its_status_is_read_to_the_end(graph, leadlink_env, database_url,
                                                          caplog):
    settings = make_settings(leadlink_env, graph)
    result = load_meta(settings, database_url, NOW - timedelta(days=3), NOW,
                       client=client_for(graph, []))
    assert result.counts.landed == total_leads(graph) == 9 + 14 + 19 + 24
    assert sorted(landed(database_url)) == sorted({lead["id"] for rows in graph.leads.values()
                                                   for lead in rows})
    assert set(cursors(database_url)) == {f"form:{form['id']}" for form in FORMS}
    assert "unknown status 'SOMETHING_NEW'" in caplog.text
    lead_request = next(r for r in graph.requests if r["path"].endswith("/leads"))
    fields = lead_request["params"]["fields"].split(",")
    assert {"id", "created_time", "field_data", "ad_id", "campaign_name", "form_id", "is_organic",
            "platform"} <= set(fields)
    assert "time_created" in lead_request["params"]["filtering"]
    assert graph.token_in_query() == 0  # paging.next's embedded token is never sent back


def test_empty_page_and_window_filtering(graph, leadlink_env, database_url):
    settings = make_settings(leadlink_env, graph)
    result = load_meta(settings, database_url, NOW + timedelta(hours=1), NOW + timedelta(hours=2),
                       client=client_for(graph, []))
    assert result.counts.landed == 0 and result.ok
    narrow = load_meta(settings, database_url, NOW - timedelta(minutes=30), NOW,
                       forms=("911000000000001",), client=client_for(graph, []))
    assert narrow.counts.landed == 3  # leads at -2, -13, -24 minutes


@pytest.mark.parametrize("fault", ["429", "500", "613", "80005", "4", "17", "32", "drop", "timeout"])
def test_throttling_and_transient_errors_are_retried(graph, leadlink_env, database_url, fault):
    graph.script.extend([None, fault])  # the forms list works; the first leads page fails once
    graph.retry_after = "5"
    sleeps: list[float] = []
    settings = make_settings(leadlink_env, graph)
    result = load_meta(settings, database_url, NOW - timedelta(days=3), NOW,
                       client=client_for(graph, sleeps))
    assert result.ok and result.counts.landed == total_leads(graph)
    assert result.retries == 1
    if fault == "429":
        assert sleeps[0] >= 5


def test_business_use_case_header_sets_the_wait(graph, leadlink_env, database_url):
    graph.business_use_case_minutes = 2
    graph.script.extend([None, "80005"])
    sleeps: list[float] = []
    load_meta(make_settings(leadlink_env, graph), database_url, NOW - timedelta(days=3), NOW,
              client=client_for(graph, sleeps))
    assert sleeps == [120.0]


@pytest.mark.parametrize("fault", ["190", "401", "403"])
def test_auth_errors_fail_fast_naming_the_token_env_var(graph, leadlink_env, run_cli, database_url,
                                                        fault):
    graph.script.extend([None, fault])
    result = run_cli("load", "meta", "--since", "2025-12-05T00:00:00Z", "--until", NOW.isoformat(),
                     extra_env={**graph.env(), **FAST})
    assert result.exit_code == 3
    assert "META_PAGE_ACCESS_TOKEN" in result.stderr
    assert graph.token not in result.output + result.stderr
    assert len(graph.requests) == 2


def test_secrets_never_in_logs_even_when_paging_links_carry_them(graph, leadlink_env, run_cli,
                                                                 database_url):
    graph.fail_first_of_each_page = ["613", "drop"]
    result = run_cli("-v", "load", "meta", "--since", "2025-12-05T00:00:00Z", "--until",
                     NOW.isoformat(), extra_env={**graph.env(), **FAST})
    assert result.exit_code == 0, result.stderr
    assert "retry" in result.stderr and "after=" in result.stderr
    assert graph.token not in result.output + result.stderr


def test_malformed_page_and_record_go_to_quarantine(graph, leadlink_env, database_url):
    graph.add_lead("911000000000001", {"created_time": "2025-12-06T11:59:00+0000",
                                       "field_data": []})  # no id
    graph.script.extend([None, None, "malformed"])  # form 1: page 1 fine, page 2 broken
    settings = make_settings(leadlink_env, graph)
    result = load_meta(settings, database_url, NOW - timedelta(days=3), NOW,
                       client=client_for(graph, []))
    assert result.ok and result.malformed_pages == 1
    assert result.incomplete_scopes == ["form:911000000000001"]
    reasons = [row[0] for row in query(database_url, "select reason from raw.quarantine")]
    assert "Meta lead without id" in reasons
    assert any(reason.startswith("malformed Graph leads page") for reason in reasons)
    assert "form:911000000000001" not in cursors(database_url)
    load_meta(settings, database_url, None, NOW, client=client_for(graph, []))
    assert len(set(landed(database_url))) == len(landed(database_url)) == total_leads(graph) - 1


def test_a_failing_form_does_not_stop_the_others(graph, leadlink_env, database_url):
    graph.script.extend([None] + ["500"] * 6)
    settings = make_settings(leadlink_env, graph, LEADLINK_HTTP_MAX_ATTEMPTS="6")
    client = GraphClient(GraphConfig(graph.url, graph.version, graph.page_id, graph.token),
                         RetryPolicy(timeout=0.3, max_attempts=6), sleep=lambda _: None)
    result = load_meta(settings, database_url, NOW - timedelta(days=3), NOW, client=client)
    assert not result.ok and list(result.failed_scopes) == ["form:911000000000001"]
    assert result.counts.landed == total_leads(graph) - 9


def test_acceptance_first_request_of_every_page_fails(graph, leadlink_env, run_cli, database_url):
    graph.fail_first_of_each_page = ["429", "500", "613", "drop"]
    env = {**graph.env(), **FAST}
    first = run_cli("load", "meta", "--until", NOW.isoformat(), extra_env=env)
    assert first.exit_code == 0, first.stderr
    leads = landed(database_url)
    assert len(leads) == len(set(leads)) == total_leads(graph)
    second = run_cli("load", "meta", "--until", NOW.isoformat(), extra_env=env)
    assert second.exit_code == 0 and "landed 0," in second.stdout
    assert len(landed(database_url)) == total_leads(graph)


def test_get_lead_for_the_webhook_worker(graph):
    lead_id = graph.leads["911000000000002"][3]["id"]
    client = client_for(graph, [])
    assert client.get_lead(lead_id)["id"] == lead_id
    assert graph.requests[-1]["path"] == f"/v20.0/{lead_id}"

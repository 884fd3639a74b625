"""`leadlink load knowlarity` against a fake Knowlarity server on 127.0.0.1."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from dbhelpers import query
from fakes import FakeKnowlarity, fake_knowlarity  # noqa: F401 - fixture
from fakes.data import make_calls

from loaders.http import RetryPolicy
from loaders.knowlarity.client import KnowlarityClient, KnowlarityConfig
from loaders.knowlarity.loader import load_knowlarity
from loaders.settings import Settings

NOW = datetime(2025, 12, 6, 12, 0, tzinfo=UTC)
FAST = {"LEADLINK_HTTP_BACKOFF_BASE": "0.001", "LEADLINK_HTTP_MAX_SERVER_WAIT": "0.01",
        "LEADLINK_HTTP_TIMEOUT": "0.3", "LEADLINK_HTTP_MAX_ATTEMPTS": "6"}


def make_settings(leadlink_env, fake, **extra) -> Settings:
    return Settings.from_environ({**os.environ, **leadlink_env, **fake.env(), **extra})


def client_for(fake, sleeps: list[float], page_size: int = 10, **policy) -> KnowlarityClient:
    config = KnowlarityConfig(base_url=fake.url, api_key=fake.api_key, auth_token=fake.auth_token,
                              page_size=page_size)
    return KnowlarityClient(config, RetryPolicy(timeout=0.3, **policy), sleep=sleeps.append)


def landed(url: str) -> list[str]:
    return [row[0] for row in query(url, "select call_uuid from raw.knowlarity_calls")]


def cursor_at(url: str):
    rows = query(url, "select cursor_at from raw.load_cursors where source = 'knowlarity'")
    return rows[0][0] if rows else None


def test_empty_window_lands_nothing_and_moves_the_cursor(fake_knowlarity, leadlink_env, database_url):
    settings = make_settings(leadlink_env, fake_knowlarity)
    result = load_knowlarity(settings, database_url, NOW - timedelta(hours=1), NOW,
                             client=client_for(fake_knowlarity, []))
    assert result.counts.landed == 0 and result.pages == 1
    assert cursor_at(database_url) == NOW
    request = fake_knowlarity.requests[0]
    assert request["path"] == "/Basic/v1/account/calllog"
    assert request["params"]["start_time"] == "2025-12-06 16:30:00+05:30"
    assert request["params"]["end_time"] == "2025-12-06 17:30:00+05:30"
    assert request["headers"]["channel"] == "Basic"


def test_one_page_and_many_pages_land_every_call_once(fake_knowlarity, leadlink_env, database_url):
    fake_knowlarity.add_calls(make_calls(7, NOW - timedelta(minutes=1)))
    settings = make_settings(leadlink_env, fake_knowlarity)
    one = load_knowlarity(settings, database_url, NOW - timedelta(hours=1), NOW,
                          client=client_for(fake_knowlarity, []))
    assert (one.counts.landed, one.pages) == (7, 1)
    fake_knowlarity.add_calls(make_calls(95, NOW - timedelta(hours=2), prefix="m"))
    many = load_knowlarity(settings, database_url, NOW - timedelta(hours=20), NOW,
                           client=client_for(fake_knowlarity, []))
    assert many.counts.landed == 95 and many.counts.already_present == 7
    assert many.pages >= 11
    assert len(set(landed(database_url))) == len(landed(database_url)) == 102


def test_long_window_is_split_into_chunks(fake_knowlarity, leadlink_env, database_url):
    fake_knowlarity.add_calls(make_calls(40, NOW, step=timedelta(hours=1)))
    settings = make_settings(leadlink_env, fake_knowlarity, LEADLINK_KNOWLARITY_CHUNK_HOURS="6")
    result = load_knowlarity(settings, database_url, NOW - timedelta(hours=48), NOW,
                             client=client_for(fake_knowlarity, [], page_size=100))
    windows = {(r["params"]["start_time"], r["params"]["end_time"]) for r in fake_knowlarity.requests}
    assert len(windows) == 8
    assert result.counts.landed == 40


def test_calls_arriving_while_paging_are_neither_missed_nor_doubled(fake_knowlarity, leadlink_env,
                                                                   database_url):
    """New calls land at the front of the newest-first list while we page: rows shift down (some
    are served twice) and the new ones sit before our offset. A second pass catches them."""
    fake_knowlarity.add_calls(make_calls(45, NOW - timedelta(minutes=30)))
    arrivals = [make_calls(3, NOW - timedelta(minutes=5 + i), prefix=f"n{i}", seed=i)
                for i in range(2)]

    def before_page(offset: int) -> None:
        if offset in (10, 30) and arrivals:  # during the first pass only
            fake_knowlarity.add_calls(arrivals.pop(0))

    fake_knowlarity.before_page = before_page
    settings = make_settings(leadlink_env, fake_knowlarity)
    result = load_knowlarity(settings, database_url, NOW - timedelta(hours=12), NOW,
                             client=client_for(fake_knowlarity, []))
    uuids = landed(database_url)
    assert len(uuids) == len(set(uuids)) == 51
    assert result.counts.already_present > 0  # rows were served twice and landed once
    assert cursor_at(database_url) == NOW


def test_a_window_that_never_settles_keeps_the_cursor_back(fake_knowlarity, leadlink_env,
                                                          database_url):
    fake_knowlarity.add_calls(make_calls(25, NOW - timedelta(minutes=30)))
    counter = iter(range(1000))

    def before_page(offset: int) -> None:
        if offset == 10:
            fake_knowlarity.add_calls(make_calls(1, NOW - timedelta(minutes=1), prefix=f"x{next(counter)}"))

    fake_knowlarity.before_page = before_page
    settings = make_settings(leadlink_env, fake_knowlarity, LEADLINK_KNOWLARITY_MAX_PASSES="2")
    result = load_knowlarity(settings, database_url, NOW - timedelta(hours=12), NOW,
                             client=client_for(fake_knowlarity, []))
    assert result.incomplete_scopes and cursor_at(database_url) is None
    assert len(landed(database_url)) == len(set(landed(database_url)))


@pytest.mark.parametrize("fault", ["429", "500", "drop", "timeout"])
def test_each_transient_fault_is_retried(fake_knowlarity, leadlink_env, database_url, fault):
    fake_knowlarity.add_calls(make_calls(12, NOW - timedelta(minutes=1)))
    fake_knowlarity.script.extend([fault, fault])
    fake_knowlarity.retry_after = "7"
    sleeps: list[float] = []
    settings = make_settings(leadlink_env, fake_knowlarity)
    result = load_knowlarity(settings, database_url, NOW - timedelta(hours=3), NOW,
                             client=client_for(fake_knowlarity, sleeps))
    assert result.counts.landed == 12 and result.retries == 2 and len(sleeps) == 2
    if fault == "429":
        assert min(sleeps) >= 7  # Retry-After honoured


@pytest.mark.parametrize("status", ["401", "403"])
def test_auth_errors_fail_fast_naming_the_env_vars(fake_knowlarity, leadlink_env, database_url,
                                                   run_cli, status):
    fake_knowlarity.script.append(status)
    result = run_cli("load", "knowlarity", "--since", "2025-12-06T10:00:00Z", "--until",
                     "2025-12-06T11:00:00Z", extra_env={**fake_knowlarity.env(), **FAST})
    assert result.exit_code == 3
    assert "KNOWLARITY_API_KEY" in result.stderr and "KNOWLARITY_AUTH_TOKEN" in result.stderr
    assert fake_knowlarity.api_key not in result.output + result.stderr
    assert fake_knowlarity.auth_token not in result.output + result.stderr
    assert len(fake_knowlarity.requests) == 1  # no retry


def test_missing_credentials_exit_3_naming_them(leadlink_env, run_cli):
    result = run_cli("load", "knowlarity", extra_env={"KNOWLARITY_API_KEY": ""})
    assert result.exit_code == 3 and "KNOWLARITY_API_KEY" in result.stderr


def test_malformed_page_is_quarantined_and_the_run_goes_on(fake_knowlarity, leadlink_env,
                                                          database_url):
    fake_knowlarity.add_calls(make_calls(25, NOW - timedelta(minutes=1)))
    fake_knowlarity.add_calls([{"customer_number": "9876543210", "start_time":
                                "2025-12-06 17:00:00+05:30"}])  # a call without uuid
    settings = make_settings(leadlink_env, fake_knowlarity)
    fake_knowlarity.script.extend([None, "malformed"])  # the second page is broken
    result = load_knowlarity(settings, database_url, NOW - timedelta(hours=6), NOW,
                             client=client_for(fake_knowlarity, []))
    assert result.malformed_pages == 1 and result.incomplete_scopes
    reasons = [row[0] for row in query(database_url, "select reason from raw.quarantine")]
    assert any(reason.startswith("malformed Knowlarity call-log page") for reason in reasons)
    assert "Knowlarity call without uuid" in reasons
    assert cursor_at(database_url) is None  # the next run reads this window again
    again = load_knowlarity(settings, database_url, NOW - timedelta(hours=6), NOW,
                            client=client_for(fake_knowlarity, []))
    assert len(set(landed(database_url))) == 25 and not again.incomplete_scopes
    assert cursor_at(database_url) == NOW


def test_acceptance_first_request_of_every_page_fails(fake_knowlarity, leadlink_env, database_url,
                                                     run_cli):
    """The server fails the first request of every page (429, 500, 613-style 400 is Meta's; here
    429 / 500 / dropped connection / timeout); every distinct call lands exactly once, and a second
    run lands nothing new."""
    fake_knowlarity.add_calls(make_calls(230, NOW - timedelta(minutes=1), step=timedelta(minutes=3)))
    fake_knowlarity.fail_first_of_each_page = ["429", "500", "drop", "timeout"]
    env = {**fake_knowlarity.env(), **FAST, "LEADLINK_KNOWLARITY_PAGE_SIZE": "25",
           "LEADLINK_KNOWLARITY_CHUNK_HOURS": "4"}
    first = run_cli("load", "knowlarity", "--since", "2025-12-05T12:00:00Z", "--until",
                    NOW.isoformat(), extra_env=env)
    assert first.exit_code == 0, first.output + first.stderr
    assert "landed 230" in first.stdout
    uuids = landed(database_url)
    assert len(uuids) == len(set(uuids)) == 230
    second = run_cli("load", "knowlarity", "--until", NOW.isoformat(), extra_env=env)
    assert second.exit_code == 0 and "landed 0," in second.stdout
    assert len(landed(database_url)) == 230


def test_tricky_text_round_trips_exactly(fake_knowlarity, leadlink_env, database_url):
    """Landing COPYs in text format: backslashes, tabs, newlines, quotes and non-ASCII in keys and
    values must come back byte for byte."""
    tricky = {"uuid": "odd\tuuid\\with\nstuff", "start_time": "2025-12-06 17:00:00+05:30",
              "destination": 'Queue "A"\t\\N\r\n\\\\', "agent_number": "\u0905\u0917\u0947\u0902\u091f"}
    fake_knowlarity.add_calls([tricky])
    settings = make_settings(leadlink_env, fake_knowlarity)
    load_knowlarity(settings, database_url, NOW - timedelta(hours=1), NOW,
                    client=client_for(fake_knowlarity, []))
    rows = query(database_url, "select call_uuid, payload from raw.knowlarity_calls")
    assert rows == [(tricky["uuid"], tricky)]


def test_next_run_rereads_the_lookback_window_and_catches_late_calls(fake_knowlarity, leadlink_env,
                                                                     database_url):
    fake_knowlarity.add_calls(make_calls(5, NOW - timedelta(minutes=10)))
    settings = make_settings(leadlink_env, fake_knowlarity, LEADLINK_LOOKBACK_MINUTES="60")
    load_knowlarity(settings, database_url, NOW - timedelta(hours=2), NOW,
                    client=client_for(fake_knowlarity, []))
    # logged late: a call from 30 minutes before the cursor, and one from 3 hours before it
    fake_knowlarity.add_calls(make_calls(1, NOW - timedelta(minutes=30), prefix="late"))
    fake_knowlarity.add_calls(make_calls(1, NOW - timedelta(hours=3), prefix="old"))
    later = NOW + timedelta(minutes=15)
    result = load_knowlarity(settings, database_url, None, later,
                             client=client_for(fake_knowlarity, []))
    assert fake_knowlarity.requests[-1]["params"]["start_time"] == "2025-12-06 16:30:00+05:30"
    assert result.counts.landed == 1 and result.counts.already_present == 5
    assert any(uuid.startswith("late") for uuid in landed(database_url))
    assert cursor_at(database_url) == later

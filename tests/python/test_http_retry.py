"""The retrying HTTP layer on its own: backoff maths, Retry-After, classifiers, redaction."""

from __future__ import annotations

import json

import httpx
import pytest

from leadlink.receiver.queue import retry_delay
from loaders.database import redact_url, redact_urls_in
from loaders.http import (
    AuthError,
    FatalHttpError,
    HttpClient,
    RetriesExhausted,
    RetryPolicy,
    backoff_delay,
    retry_after_seconds,
)
from loaders.meta.client import GraphClient, GraphConfig, classify_graph
from loaders.settings import Settings

SECRET = "EAAGsupersecrettoken42"


def scripted(responses: list) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = responses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handler), seen


def test_full_jitter_backoff_is_capped():
    client = HttpClient(policy=RetryPolicy(backoff_base=1, backoff_cap=10), random=lambda: 1.0)
    assert [client.backoff(n) for n in range(6)] == [1, 2, 4, 8, 10, 10]
    zero = HttpClient(policy=RetryPolicy(backoff_base=1, backoff_cap=10), random=lambda: 0.0)
    assert zero.backoff(3) == 0  # full jitter reaches 0
    assert zero.backoff(3, floor=30) == 30  # a server's advertised wait is a floor
    assert zero.backoff(3, floor=5000) == RetryPolicy().max_server_wait  # itself capped


def test_one_backoff_formula_for_http_and_the_leadgen_queue():
    # full jitter (HTTP): anywhere from 0 to the capped exponential
    assert [backoff_delay(n, 1, 10, lambda: 1.0) for n in range(6)] == [1, 2, 4, 8, 10, 10]
    assert backoff_delay(5, 1, 10, lambda: 0.0) == 0
    # half jitter (queue rows, attempts counted from 1): never below half, never above the cap
    assert retry_delay(1, 30, 3600, lambda: 0.0) == 15 == backoff_delay(0, 30, 3600, lambda: 0.0,
                                                                          least_share=0.5)
    assert retry_delay(4, 30, 3600, lambda: 1.0) == 240
    assert retry_delay(20, 30, 3600, lambda: 0.5) == 2700


def test_retry_policy_from_settings():
    settings = Settings.from_environ({"LEADLINK_HTTP_TIMEOUT": "3", "LEADLINK_HTTP_MAX_ATTEMPTS": "2"})
    policy = RetryPolicy.from_settings(settings.http)
    assert (policy.timeout, policy.max_attempts, policy.backoff_cap) == (3, 2, 60)


def test_retry_after_seconds_and_http_date():
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "12"})) == 12
    dated = httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT"})
    assert retry_after_seconds(dated, now=lambda: 1445412500.0) == 10
    assert retry_after_seconds(httpx.Response(429)) is None


def test_retries_then_gives_up_with_a_redacted_message():
    transport, seen = scripted([httpx.Response(503)] * 3)
    sleeps: list[float] = []
    client = HttpClient(policy=RetryPolicy(max_attempts=3), sleep=sleeps.append,
                        transport=transport, secrets=(SECRET,))
    with pytest.raises(RetriesExhausted) as caught:
        client.get(f"https://graph.example/v20.0/1/leads?access_token={SECRET}&after=x")
    assert len(seen) == 3 and len(sleeps) == 2
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)
    assert "access_token=***" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_connection_errors_and_timeouts_are_retried():
    transport, seen = scripted([httpx.ConnectError("refused"), httpx.ReadTimeout("slow"),
                                httpx.RemoteProtocolError("dropped"), httpx.Response(200, json={})])
    client = HttpClient(sleep=lambda _: None, transport=transport)
    assert client.get("https://x.example/a").status_code == 200 and client.retries == 3


def test_other_4xx_fail_fast():
    transport, seen = scripted([httpx.Response(404, text="nope")])
    client = HttpClient(sleep=lambda _: None, transport=transport)
    with pytest.raises(FatalHttpError):
        client.get("https://x.example/a")
    assert len(seen) == 1


@pytest.mark.parametrize("code,kind", [
    (1, "retry"), (2, "retry"), (4, "retry"), (17, "retry"), (32, "retry"), (341, "retry"),
    (368, "retry"), (613, "retry"), (80000, "retry"), (80005, "retry"), (80014, "retry"),
    (190, "auth"), (100, "fatal"), (10, "fatal"), (200, "fatal"), (80015, "fatal"),
])
def test_graph_error_codes(code, kind):
    decision = classify_graph(httpx.Response(400, json={"error": {"code": code}}))
    assert type(decision).__name__.lower() == kind


def test_graph_token_goes_in_a_header_and_never_in_repr():
    transport, seen = scripted([httpx.Response(400, json={"error": {"code": 190}})])
    client = GraphClient(GraphConfig("https://graph.example", "v20.0", "1", SECRET),
                         sleep=lambda _: None, transport=transport)
    with pytest.raises(AuthError) as caught:
        client.get_lead("123")
    assert "META_PAGE_ACCESS_TOKEN" in str(caught.value)
    assert seen[0].headers["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in str(seen[0].url)
    for text in (repr(client), repr(client.config), repr(client.http), str(caught.value)):
        assert SECRET not in text


def test_paging_next_to_another_host_is_refused():
    page = {"data": [], "paging": {"next": f"https://evil.example/x?access_token={SECRET}"}}
    transport, _ = scripted([httpx.Response(200, text=json.dumps(page))])
    client = GraphClient(GraphConfig("https://graph.example", "v20.0", "1", SECRET),
                         transport=transport)
    with pytest.raises(FatalHttpError) as caught:
        list(client.iter_leads("9"))
    assert SECRET not in str(caught.value)


def test_redact_url():
    assert redact_url("https://h/p?a=1&access_token=XYZ&after=c") == \
        "https://h/p?a=1&access_token=***&after=c"
    assert redact_url("https://u:pw@h/p") == "https://u:***@h/p"
    # database URLs and libpq strings: the one redact_url serves both
    assert redact_url("postgresql://app:pw@db:6543/postgres?sslmode=require") == \
        "postgresql://app:***@db:6543/postgres?sslmode=require"
    assert redact_url("postgresql://db/crm?password=pw&user=app") == \
        "postgresql://db/crm?password=***&user=app"
    assert redact_url("host=db password='p w' dbname=crm") == "host=db password=*** dbname=crm"
    assert redact_url("postgresql://db/crm") == "postgresql://db/crm"
    assert redact_urls_in("could not reach postgresql://app:pw@db/crm (password=pw)") == \
        "could not reach postgresql://app:***@db/crm (password=***)"


def test_an_error_answer_quoting_a_phone_is_masked_in_the_message():
    body = '{"error": "no call for customer_number +919876543210"}'
    transport, _ = scripted([httpx.Response(400, text=body)])
    client = HttpClient(policy=RetryPolicy(max_attempts=1), transport=transport, name="knowlarity")
    with pytest.raises(FatalHttpError) as caught:
        client.get("https://api.example/calls")
    assert "9876543210" not in str(caught.value) and "+91********10" in str(caught.value)

"""The webhook receiver: authentication, storing before answering, idempotency, limits,
the leadgen worker against a failing-then-recovering Graph, and a real `leadlink serve`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg2
import pytest

with warnings.catch_warnings():  # newer Starlette suggests httpx2 for its test client
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from dbhelpers import query
from fakes.graph import FakeGraph

from leadlink.receiver.app import ReceiverConfig, create_app
from leadlink.receiver.graph import lead_fetcher
from leadlink.receiver.signature import meta_signature
from leadlink.receiver.worker import WorkerConfig, drain
from leadlink.runtime.ports import free_port
from loaders.settings import Settings

PROJECT_DIR = Path(__file__).resolve().parents[2]
SECRET = "test-app-secret"
VERIFY = "test-verify-token"
TOKEN = "test-knowlarity-token"
FORM_ID = "911000000000002"
LEADGEN_ID = "123456789012345678"  # 18 digits: more than a float holds exactly

WRAPPED = {"event": "call.completed", "timestamp": "2025-12-06T11:16:14+05:30",
           "data": {"uuid": "call-wrapped", "customer_number": "+919876543210",
                    "start_time": "2025-12-06 11:11:21+05:30", "call_duration": 40}}
FLAT = {"uuid": "call-flat", "customer_number": "09876543210", "knowlarity_number": "+918030001111",
        "start_time": "2025-12-06 11:11:21+05:30", "call_duration": 0}
SR_HOOK = {"callid": "call-sr", "dispnumber": "+918030001111", "caller_id": "+91 98765-43210",
           "call_duration": "12", "start_time": "2016-09-27 03:49:44.391601+00:00",
           "end_time": "2016-09-27 09:20:00+05:30", "timezone": "Asia/Kolkata"}
LIVE_EVENT = {"event_type": "ORIGINATE", "uuid": "call-live", "customer_number": "9000000001",
              "call_direction": "Inbound", "event_date_local": "2025-12-06 11:00:00"}
NO_PHONE = {"uuid": "call-nophone", "customer_number": "", "caller_id": "anonymous",
            "start_time": "2025-12-06 11:11:21+05:30"}


def graph_lead(lead_id: str) -> dict:
    return {"id": lead_id, "created_time": "2025-12-06T07:52:10+0000", "form_id": "911000000000002",
            "field_data": [{"name": "full_name", "values": ["Asha Rao"]},
                           {"name": "phone_number", "values": ["+919845012345"]}],
            "platform": "fb", "is_organic": True}


def notification_bytes(*leadgen_ids: str, numeric: bool = False) -> bytes:
    """A leadgen notification as Meta sends it; with numeric=True the ids are JSON numbers."""
    changes = []
    for leadgen_id in leadgen_ids:
        value = f'"{leadgen_id}"' if not numeric else leadgen_id
        changes.append('{"field":"leadgen","value":{"leadgen_id":%s,"page_id":"1020304050",'
                       '"form_id":"911000000000002","created_time":1765007530}}' % value)
    return ('{"object":"page","entry":[{"id":"1020304050","time":1765007533,"changes":[%s]}]}'
            % ",".join(changes)).encode()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Hub-Signature-256": meta_signature(secret, body),
            "Content-Type": "application/json"}


def count(url: str, table: str, where: str = "true") -> int:
    return query(url, f"select count(*) from raw.{table} where {where}")[0][0]


def execute(url: str, statement: str) -> None:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement)
        conn.commit()
    finally:
        conn.close()


def receiver_config(**overrides) -> ReceiverConfig:
    values = dict(meta_app_secret=SECRET, meta_verify_token=VERIFY, knowlarity_token=TOKEN,
                  pool_size=4, run_worker=False)
    values.update(overrides)
    return ReceiverConfig(**values)


@pytest.fixture
def client(settings: Settings, database_url: str) -> Iterator[TestClient]:
    app = create_app(settings, database_url, receiver_config())
    with TestClient(app) as test_client:
        yield test_client


# --- Meta signature ------------------------------------------------------------------------------
def test_a_validly_signed_notification_is_stored_and_queued_with_exact_ids(client, database_url):
    body = notification_bytes(LEADGEN_ID, "223456789012345", numeric=True)
    response = client.post("/webhooks/meta", content=body, headers=signed(body))
    assert response.status_code == 200, response.text
    assert response.json()["queued"] == 2
    assert query(database_url, "select leadgen_id, page_id, status from raw.meta_leadgen_queue"
                               " order by leadgen_id") == [
        (LEADGEN_ID, "1020304050", "pending"), ("223456789012345", "1020304050", "pending")]
    stored = query(database_url, "select body_text, outcome from raw.webhook_deliveries")
    assert stored == [(body.decode(), "queued")]


@pytest.mark.parametrize("case", ["tampered", "reserialised", "missing", "sha1_only",
                                  "sha1_in_256_header", "other_secret"])
def test_a_badly_signed_notification_is_refused_and_nothing_is_stored(client, database_url, case):
    # Meta escapes '@' and non-ASCII; the same JSON re-serialised is other bytes.
    original = notification_bytes(LEADGEN_ID).replace(b'"page"', b'"p\\u0061ge"')
    body, headers = original, signed(original)
    if case == "tampered":
        body = original.replace(LEADGEN_ID.encode(), b"123456789012345679")
    elif case == "reserialised":
        body = json.dumps(json.loads(original)).encode()
        assert body != original and json.loads(body) == json.loads(original)
    elif case == "missing":
        headers = {"Content-Type": "application/json"}
    elif case == "sha1_only":
        import hashlib
        import hmac

        headers = {"X-Hub-Signature": "sha1=" + hmac.new(SECRET.encode(), original,
                                                         hashlib.sha1).hexdigest()}
    elif case == "sha1_in_256_header":
        headers = {"X-Hub-Signature-256": headers["X-Hub-Signature-256"].replace("sha256=", "sha1=")}
    elif case == "other_secret":
        headers = signed(original, "not-the-secret")
    response = client.post("/webhooks/meta", content=body, headers=headers)
    assert response.status_code == 403
    assert count(database_url, "webhook_deliveries") == 0
    assert count(database_url, "meta_leadgen_queue") == 0


def test_an_uppercase_hex_signature_is_accepted(client, database_url):
    body = notification_bytes(LEADGEN_ID)
    header = "sha256=" + meta_signature(SECRET, body)[len("sha256="):].upper()
    response = client.post("/webhooks/meta", content=body, headers={"X-Hub-Signature-256": header})
    assert response.status_code == 200


# --- handshake -----------------------------------------------------------------------------------
@pytest.mark.parametrize("params, status", [
    ({"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}, 200),
    ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1158201444"}, 403),
    ({"hub.mode": "unsubscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}, 403),
    ({"hub.verify_token": VERIFY, "hub.challenge": "1158201444"}, 403),
])
def test_subscription_handshake(client, params, status):
    response = client.get("/webhooks/meta", params=params)
    assert response.status_code == status
    if status == 200:
        assert response.text == "1158201444"
        assert response.headers["content-type"].startswith("text/plain")


# --- Knowlarity ----------------------------------------------------------------------------------
def test_knowlarity_shapes_land_with_header_or_query_token(client, database_url):
    for body in (WRAPPED, FLAT):
        response = client.post("/webhooks/knowlarity", json=body, headers={"X-Leadlink-Token": TOKEN})
        assert response.status_code == 200, response.text
    for body in (SR_HOOK, LIVE_EVENT):
        response = client.post("/webhooks/knowlarity", params={"token": TOKEN}, json=body)
        assert response.status_code == 200, response.text
    # A GET hook carries the same names as query parameters; the token is not stored.
    response = client.get("/webhooks/knowlarity", params={"token": TOKEN, **{
        key: str(value) for key, value in FLAT.items()}, "uuid": "call-get"})
    assert response.status_code == 200, response.text
    shapes = dict(query(database_url, "select call_uuid, payload_shape from raw.knowlarity_calls"))
    assert shapes == {"call-wrapped": "webhook_wrapped", "call-flat": "calllog",
                      "call-sr": "sr_hook_cdr", "call-live": "live_event", "call-get": "calllog"}
    assert set(query(database_url, "select distinct landed_from from raw.knowlarity_calls")) == {
        ("webhook",)}
    assert count(database_url, "webhook_deliveries", "body_text like '%%" + TOKEN + "%%'") == 0
    assert count(database_url, "knowlarity_calls", "payload::text like '%%" + TOKEN + "%%'") == 0


@pytest.mark.parametrize("headers, params", [
    ({}, {}), ({"X-Leadlink-Token": "wrong"}, {}), ({}, {"token": "wrong"}),
])
def test_knowlarity_without_the_right_token_is_refused(client, database_url, headers, params):
    response = client.post("/webhooks/knowlarity", json=FLAT, headers=headers, params=params)
    assert response.status_code == 401
    assert client.get("/webhooks/knowlarity", params={**params, "uuid": "x"},
                      headers=headers).status_code == 401
    assert count(database_url, "webhook_deliveries") == 0
    assert count(database_url, "knowlarity_calls") == 0


def test_a_body_without_a_phone_lands_like_any_other(client, database_url):
    response = client.post("/webhooks/knowlarity", json=NO_PHONE, headers={"X-Leadlink-Token": TOKEN})
    assert response.status_code == 200
    assert count(database_url, "knowlarity_calls", "call_uuid = 'call-nophone'") == 1


# --- idempotency, limits, bad bodies -------------------------------------------------------------
def test_redeliveries_change_nothing(client, database_url):
    body = json.dumps(FLAT).encode()
    headers = {"X-Leadlink-Token": TOKEN, "Content-Type": "application/json"}
    for _ in range(3):
        assert client.post("/webhooks/knowlarity", content=body, headers=headers).status_code == 200
    # The same call with other bytes (key order, spacing): one raw row still.
    other_bytes = json.dumps(dict(reversed(list(FLAT.items()))), indent=2).encode()
    assert client.post("/webhooks/knowlarity", content=other_bytes, headers=headers).status_code == 200
    assert count(database_url, "knowlarity_calls") == 1
    assert query(database_url, "select times_received from raw.webhook_deliveries"
                               " order by delivery_id") == [(3,), (1,)]

    meta = notification_bytes(LEADGEN_ID)
    again_in_a_batch = notification_bytes("999000111222333", LEADGEN_ID)
    for body in (meta, meta, again_in_a_batch):
        assert client.post("/webhooks/meta", content=body, headers=signed(body)).status_code == 200
    assert count(database_url, "meta_leadgen_queue") == 2
    assert count(database_url, "meta_leadgen_queue", f"leadgen_id = '{LEADGEN_ID}'") == 1


def test_an_oversize_body_is_refused_with_413(client, database_url):
    big = b'{"uuid": "big", "pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = client.post("/webhooks/knowlarity", content=big, headers={"X-Leadlink-Token": TOKEN})
    assert response.status_code == 413
    response = client.post("/webhooks/meta", content=big, headers=signed(big))
    assert response.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        for _ in range(20):
            yield b"x" * 65536

    response = client.post("/webhooks/knowlarity", content=chunks(),
                           headers={"X-Leadlink-Token": TOKEN})
    assert response.status_code == 413
    assert count(database_url, "webhook_deliveries") == 0
    # Just under the limit is fine.
    fits = b'{"uuid": "fits", "pad": "' + b"x" * (1024 * 1024 - 64) + b'"}'
    response = client.post("/webhooks/knowlarity", content=fits, headers={"X-Leadlink-Token": TOKEN})
    assert response.status_code == 200


def test_invalid_json_is_quarantined_and_acknowledged(client, database_url):
    bad = b'{"object": "page", "entry": [ {oops'
    response = client.post("/webhooks/meta", content=bad, headers=signed(bad))
    assert response.status_code == 200
    response = client.post("/webhooks/knowlarity", content=b"{not json",
                           headers={"X-Leadlink-Token": TOKEN})
    assert response.status_code == 200
    reasons = dict(query(database_url, "select source, reason from raw.quarantine"))
    assert reasons["meta"].startswith("signed Meta webhook body is not valid JSON")
    assert reasons["knowlarity"].startswith("not valid JSON")
    assert query(database_url, "select source, outcome from raw.webhook_deliveries order by 1") == [
        ("knowlarity", "quarantined"), ("meta", "quarantined")]
    # A redelivery of the bad body is answered 200 again and stored once.
    assert client.post("/webhooks/meta", content=bad, headers=signed(bad)).status_code == 200
    assert count(database_url, "quarantine", "source = 'meta'") == 1


def test_database_down_answers_503(settings, database_url):
    closed_port = free_port()
    down_url = f"postgresql://postgres@127.0.0.1:{closed_port}/nothing"
    app = create_app(settings, down_url, receiver_config())
    with TestClient(app) as down:
        body = notification_bytes(LEADGEN_ID)
        assert down.post("/webhooks/meta", content=body, headers=signed(body)).status_code == 503
        response = down.post("/webhooks/knowlarity", json=FLAT, headers={"X-Leadlink-Token": TOKEN})
        assert response.status_code == 503
        assert response.headers["retry-after"]
        assert down.get("/healthz").status_code == 503
    app = create_app(settings, database_url, receiver_config())
    with TestClient(app) as up:
        assert up.get("/healthz").status_code == 200


# --- the worker and Graph ------------------------------------------------------------------------
@pytest.fixture
def fake_graph() -> Iterator[FakeGraph]:
    graph = FakeGraph(forms=[{"id": FORM_ID, "name": "Test form", "status": "ACTIVE"}])
    graph.start()
    yield graph
    graph.stop()


def graph_settings(settings: Settings, graph: FakeGraph, **extra: str) -> Settings:
    return Settings.from_environ({**settings.environ, **graph.env(), **extra})


def lead_requests(graph: FakeGraph, lead_id: str) -> int:
    return sum(1 for request in graph.requests if request["path"].endswith(f"/{lead_id}"))


def test_graph_failing_then_recovering_lands_the_lead_after_retries(client, settings, database_url,
                                                                    fake_graph):
    fake_graph.add_lead(FORM_ID, graph_lead(LEADGEN_ID))
    body = notification_bytes(LEADGEN_ID)
    assert client.post("/webhooks/meta", content=body, headers=signed(body)).status_code == 200
    fake_graph.script.extend(["500", "613", "503", "4"])
    worker_settings = graph_settings(settings, fake_graph, LEADLINK_WEBHOOK_GRAPH_ATTEMPTS="2",
                                     LEADLINK_HTTP_BACKOFF_BASE="0.001")
    fetch = lead_fetcher(worker_settings, sleep=lambda _: None)
    config = WorkerConfig(retry_base_seconds=60.0)

    first = drain(worker_settings, database_url, fetch, config)
    assert (first.claimed, first.retried, first.landed) == (1, 1, 0)
    row = query(database_url, "select status, attempts, last_error, next_attempt_at > now()"
                              " from raw.meta_leadgen_queue")[0]
    assert row[:2] == ("pending", 1) and "613" in row[2] and row[3] is True
    assert fake_graph.token not in row[2]
    # Still backing off: a drain now does nothing.
    assert drain(worker_settings, database_url, fetch, config).claimed == 0
    for expected_retried in (1, 0):
        execute(database_url, "update raw.meta_leadgen_queue set next_attempt_at = now()")
        counts = drain(worker_settings, database_url, fetch, config)
        assert counts.retried == expected_retried
    assert query(database_url, "select status, attempts from raw.meta_leadgen_queue") == [("done", 3)]
    assert query(database_url, "select lead_id, landed_from, payload_shape,"
                               " payload -> 'field_data' -> 1 -> 'values' ->> 0"
                               " from raw.meta_leads") == [
        (LEADGEN_ID, "webhook", "graph_lead", "+919845012345")]
    assert lead_requests(fake_graph, LEADGEN_ID) == 5
    # A redelivery of a lead already fetched queues nothing and fetches nothing.
    assert client.post("/webhooks/meta", content=body, headers=signed(body)).status_code == 200
    assert drain(worker_settings, database_url, fetch, config).claimed == 0
    assert lead_requests(fake_graph, LEADGEN_ID) == 5


def test_a_lead_graph_calls_final_is_parked_after_repeated_attempts(client, settings, database_url,
                                                                    fake_graph):
    body = notification_bytes("555000111222333")  # unknown to Graph: error 100
    client.post("/webhooks/meta", content=body, headers=signed(body))
    worker_settings = graph_settings(settings, fake_graph)
    fetch = lead_fetcher(worker_settings, sleep=lambda _: None)
    config = WorkerConfig(retry_base_seconds=60.0, fail_after=3)
    statuses = []
    for _ in range(3):
        execute(database_url, "update raw.meta_leadgen_queue set next_attempt_at = now()")
        drain(worker_settings, database_url, fetch, config)
        statuses.append(query(database_url, "select status from raw.meta_leadgen_queue")[0][0])
    assert statuses == ["pending", "pending", "failed"]


def test_leadlink_run_drains_the_queue_then_dbt_builds_the_lead(settings, database_url, run_cli,
                                                                fake_graph, tmp_path):
    fake_graph.add_lead(FORM_ID, graph_lead(LEADGEN_ID))
    fake_graph.script.extend(["613"])
    app = create_app(settings, database_url, receiver_config())
    with TestClient(app) as test_client:
        body = notification_bytes(LEADGEN_ID, numeric=True)
        assert test_client.post("/webhooks/meta", content=body, headers=signed(body)).status_code == 200
        assert test_client.post("/webhooks/knowlarity", json=WRAPPED,
                                headers={"X-Leadlink-Token": TOKEN}).status_code == 200
    extra = {**fake_graph.env(), "LEADLINK_HTTP_BACKOFF_BASE": "0.001"}
    result = run_cli("run", "--skip-dbt", "--json", extra_env=extra)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["webhook_queue"]["pending"] == 0, summary
    assert summary["webhook_queue"]["drained"] == 1, summary
    assert query(database_url, "select count(*) from raw.meta_leads"
                               " where lead_id = %s and landed_from = 'webhook'",
                 (LEADGEN_ID,)) == [(1,)]

    crm_export = tmp_path / "leads_master.csv"  # the CRM has no leads yet
    crm_export.write_text("id,full_name,phone_number_normalized\n", encoding="utf-8")
    assert run_cli("load", "legacy", "--leads", str(crm_export)).exit_code == 0
    built = run_cli("dbt", "build")
    assert built.exit_code == 0, built.output
    # the webhook's Meta lead is a lead of its customer; the call's number is the documentation
    # example 9876543210, a test number: an unlinkable lead, never a customer
    assert query(database_url, "select customers.phone_e164 from analytics.leads as leads"
                               " inner join analytics.customers as customers"
                               " on customers.customer_id = leads.customer_id"
                               " where leads.external_lead_id = %s",
                 (LEADGEN_ID,)) == [("+919845012345",)]
    assert query(database_url, "select reason from analytics.unlinkable_leads"
                               " where external_lead_id = %s",
                 (WRAPPED["data"]["uuid"],)) == [("test_number",)]


# --- a real server -------------------------------------------------------------------------------
def _wait_until(check, timeout: float = 30.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def test_leadlink_serve_end_to_end(leadlink_env, database_url, fake_graph):
    fake_graph.add_lead(FORM_ID, graph_lead(LEADGEN_ID))
    fake_graph.script.extend(["500", "500", "500"])  # the first lookup fails: the worker retries
    port = free_port()
    env = {**os.environ, **leadlink_env, **fake_graph.env(), "META_APP_SECRET": SECRET,
           "META_VERIFY_TOKEN": VERIFY, "KNOWLARITY_WEBHOOK_TOKEN": TOKEN,
           "LEADLINK_HTTP_BACKOFF_BASE": "0.01", "LEADLINK_WEBHOOK_POLL_SECONDS": "0.5",
           "LEADLINK_WEBHOOK_RETRY_BASE_SECONDS": "0.5"}
    server = subprocess.Popen(
        [sys.executable, "-m", "leadlink.cli.main", "serve", "--port", str(port), "--workers", "2"],
        env=env, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: _healthy(base), timeout=60)
        body = notification_bytes(LEADGEN_ID, numeric=True)
        with httpx.Client(base_url=base) as http:
            response = http.get("/webhooks/meta", params={
                "hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "42"})
            assert (response.status_code, response.text) == (200, "42")
            assert http.post("/webhooks/meta", content=body, headers=signed(body)).status_code == 200
            response = http.post("/webhooks/knowlarity", json=WRAPPED,
                                 headers={"X-Leadlink-Token": TOKEN})
            assert response.status_code == 200
            assert http.post("/webhooks/knowlarity", json=WRAPPED).status_code == 401
        # The server's own worker fetches the lead (after the failed Graph answers).
        _wait_until(lambda: query(database_url, "select status from raw.meta_leadgen_queue")
                    == [("done",)], timeout=60)
        assert lead_requests(fake_graph, LEADGEN_ID) >= 4
        assert query(database_url, "select lead_id, landed_from from raw.meta_leads") == [
            (LEADGEN_ID, "webhook")]
        assert query(database_url, "select call_uuid from raw.knowlarity_calls") == [
            ("call-wrapped",)]
    finally:
        server.send_signal(signal.SIGTERM)  # graceful shutdown
        try:
            output, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert server.returncode == 0, output
    for secret in (SECRET, TOKEN, VERIFY, fake_graph.token, "9845012345", "9876543210"):
        assert secret not in output


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# --- poison bodies: stored first, each record on its own -----------------------------------------
DEEP = b"[" * 100_000 + b"]" * 100_000
POISON_KNOWLARITY_BODIES = {
    "deep_nesting": DEEP,
    "empty": b"",
    "whitespace": b"  \n ",
    "huge_integer": b'{"uuid": "call-bigint", "call_duration": ' + b"9" * 5000 + b"}",
    "nan": b'{"uuid": "call-nan", "call_duration": NaN}',
    "infinity": b'{"uuid": "call-inf", "call_duration": -Infinity}',
    "overflow": b'{"uuid": "call-1e400", "call_duration": 1e400}',
    "lone_surrogate": b'{"uuid": "call-surrogate", "customer_number": "\\ud800"}',
    "nul": b'{"uuid": "call-nul", "customer_number": "98\\u00007"}',
    "not_utf8": b'{"uuid": "call-latin1", "customer_number": "\xff\xfe"}',
    "huge_phone": b'{"uuid": "call-huge", "customer_number": "' + b"9" * 900_000 + b'"}',
    "float_phone": b'{"uuid": "call-float", "customer_number": 9.876543210e9}',
    "object_phone": b'{"uuid": "call-object", "customer_number": {"n": 1}}',
    "long_key": b'{"uuid": "' + b"u" * 500 + b'", "customer_number": "9876543210"}',
    "array_data": b'{"event": "call.completed", "data": [1, 2]}',
}


@pytest.mark.parametrize("case", sorted(POISON_KNOWLARITY_BODIES))
def test_a_poison_knowlarity_body_is_stored_and_quarantined_with_its_batch(client, database_url,
                                                                           case):
    body = POISON_KNOWLARITY_BODIES[case]
    response = client.post("/webhooks/knowlarity", content=body,
                           headers={"X-Leadlink-Token": TOKEN, "Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "quarantined"
    assert query(database_url, "select outcome, batch_id is not null"
                               " from raw.webhook_deliveries") == [("quarantined", True)]
    rows = query(database_url, "select quarantine.reason, quarantine.batch_id = delivery.batch_id"
                               " from raw.quarantine cross join raw.webhook_deliveries as delivery")
    assert len(rows) == 1 and rows[0][1] is True, rows
    assert count(database_url, "knowlarity_calls") == 0
    assert count(database_url, "load_batches", "status = 'running'") == 0
    # a redelivery is acknowledged and changes nothing: the sender stops retrying
    again = client.post("/webhooks/knowlarity", content=body, headers={"X-Leadlink-Token": TOKEN})
    assert again.status_code == 200
    assert count(database_url, "quarantine") == 1


def test_one_poison_call_in_a_body_costs_only_that_call(client, database_url):
    body = b'[{"uuid": "call-good", "customer_number": "9845012345"},' \
           b' {"uuid": "call-bad", "call_duration": NaN}]'
    response = client.post("/webhooks/knowlarity", content=body, headers={"X-Leadlink-Token": TOKEN})
    assert response.json()["outcome"] == "landed"
    assert query(database_url, "select call_uuid from raw.knowlarity_calls") == [("call-good",)]
    reason = query(database_url, "select reason from raw.quarantine")[0][0]
    assert "NaN is not a JSON number" in reason and "call-bad" in reason


def test_numbers_are_never_silently_changed(client, database_url):
    # 1e-400 would become 0, 1e400 inf (then null): both are refused, the rest lands as sent
    body = b'{"uuid": "call-small", "call_duration": 1e-400}'
    client.post("/webhooks/knowlarity", content=body, headers={"X-Leadlink-Token": TOKEN})
    assert count(database_url, "knowlarity_calls") == 0
    assert "too small" in query(database_url, "select reason from raw.quarantine")[0][0]


def test_a_head_with_a_valid_token_is_stored(client, database_url):
    response = client.head("/webhooks/knowlarity", params={"token": TOKEN})
    assert response.status_code == 200
    assert query(database_url, "select method, outcome from raw.webhook_deliveries") == [
        ("HEAD", "quarantined")]


def test_a_form_encoded_push_is_stored_without_its_token(client, database_url):
    # the hook URL carries the token, and so does the form Knowlarity posts to it
    response = client.post("/webhooks/knowlarity", params={"token": TOKEN},
                           content=f"token={TOKEN}&callid=call-form"
                           "&caller_id=%2B919845012345".encode(),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200, response.text
    assert query(database_url, "select call_uuid, payload ->> 'caller_id' from raw.knowlarity_calls"
                 ) == [("call-form", "+919845012345")]
    assert count(database_url, "webhook_deliveries", "body_text like '%%" + TOKEN + "%%'") == 0
    assert count(database_url, "webhook_deliveries", "body_text like '%%token%%'") == 0
    assert count(database_url, "knowlarity_calls", "payload ? 'token'") == 0


def test_a_meta_body_batching_a_poison_change_queues_the_good_one(client, database_url):
    body = (b'{"object":"page","entry":[{"id":"1020304050","time":1765007533,"changes":['
            b'{"field":"leadgen","value":{"leadgen_id":"111222333444555","form_id":"9"}},'
            b'{"field":"leadgen","value":{"leadgen_id":"111222333444556","form_id":"a\\u0000b"}},'
            b'{"field":"leadgen","value":{"leadgen_id":"../../me/accounts","form_id":"9"}},'
            b'{"field":"leadgen","value":{"leadgen_id":"111222333444557","x":NaN}}]}]}')
    response = client.post("/webhooks/meta", content=body, headers=signed(body))
    assert response.status_code == 200, response.text
    assert response.json()["queued"] == 1
    assert query(database_url, "select leadgen_id from raw.meta_leadgen_queue") == [
        ("111222333444555",)]
    reasons = sorted(row[0] for row in query(
        database_url, "select reason from raw.quarantine where batch_id is not null"))
    assert len(reasons) == 3, reasons
    assert any("NUL" in reason for reason in reasons)
    assert any("not all digits" in reason for reason in reasons)
    assert any("NaN" in reason for reason in reasons)


def test_a_poison_meta_body_is_stored_and_quarantined(client, database_url):
    for body in (DEEP, b"", b'{"entry": [' + b"1" * 5000 + b"]}", b"\xff{"):
        response = client.post("/webhooks/meta", content=body, headers=signed(body))
        assert response.status_code == 200, response.text
    assert count(database_url, "webhook_deliveries") == 4
    assert count(database_url, "quarantine", "batch_id is not null") == 4


def test_the_pool_sets_its_timeouts_per_transaction_not_at_startup(database_url):
    from leadlink.receiver.pool import ConnectionPool

    pool = ConnectionPool(database_url, 1, statement_timeout_ms=1234)
    try:
        with pool.connection() as (conn, _):
            assert not conn.get_dsn_parameters().get("options")
            with conn.cursor() as cursor:
                cursor.execute("show statement_timeout")
                assert cursor.fetchone()[0] == "1234ms"
            conn.commit()
            with conn.cursor() as cursor:  # it ends with the transaction (set local)
                cursor.execute("show statement_timeout")
                assert cursor.fetchone()[0] == "0"
    finally:
        pool.close()


def test_a_database_error_is_logged_without_values(client, database_url, caplog, monkeypatch):
    from leadlink.receiver import intake

    def failing(cursor, *args):
        cursor.execute("select '+919845012345x'::bigint")

    monkeypatch.setattr(intake, "_land_knowlarity_rows", failing)
    with caplog.at_level("INFO", logger="leadlink"):
        response = client.post("/webhooks/knowlarity", json=FLAT, headers={"X-Leadlink-Token": TOKEN})
    assert response.status_code == 200  # stored, then quarantined whole
    assert query(database_url, "select outcome from raw.webhook_deliveries") == [("quarantined",)]
    assert "could not be landed" in query(database_url, "select reason from raw.quarantine")[0][0]
    assert "InvalidTextRepresentation" in caplog.text
    assert "9845012345" not in caplog.text


# --- the worker: done only when landed; one batch lifecycle ---------------------------------------
def _queue_lead(client, leadgen_id: str) -> None:
    body = notification_bytes(leadgen_id)
    assert client.post("/webhooks/meta", content=body, headers=signed(body)).json()["queued"] == 1


@pytest.mark.parametrize("answer", [{}, {"id": "999999999999999", "field_data": []},
                                    {"error": {"code": 1}}, {"data": []}])
def test_a_200_answer_without_the_lead_is_retried_then_failed_never_done(client, settings,
                                                                         database_url, answer):
    _queue_lead(client, LEADGEN_ID)
    config = WorkerConfig(retry_base_seconds=60.0, fail_after=2)
    statuses = []
    for _ in range(2):
        execute(database_url, "update raw.meta_leadgen_queue set next_attempt_at = now()")
        drain(settings, database_url, lambda _: answer, config)
        statuses.append(query(database_url, "select status from raw.meta_leadgen_queue")[0][0])
    assert statuses == ["pending", "failed"]
    error = query(database_url, "select last_error from raw.meta_leadgen_queue")[0][0]
    assert "without a usable lead" in error and json.dumps(answer)[:10] in error
    assert count(database_url, "meta_leads") == 0
    assert count(database_url, "load_batches", "status = 'running'") == 0


def test_a_broken_worker_pass_ends_its_batch_failed(client, settings, database_url, monkeypatch):
    from leadlink.receiver import worker

    _queue_lead(client, LEADGEN_ID)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(worker, "land_chunk", broken)
    with pytest.raises(RuntimeError):
        drain(settings, database_url, lambda _: graph_lead(LEADGEN_ID), WorkerConfig())
    assert query(database_url, "select source, method, status, detail ->> 'error'"
                               " from raw.load_batches where method = 'webhook'"
                               " and source = 'meta'") == [
        ("meta", "webhook", "failed", "RuntimeError: disk full")]
    assert query(database_url, "select status from raw.meta_leadgen_queue") == [("pending",)]


def test_an_id_that_is_not_digits_is_never_sent_to_graph(settings, database_url, fake_graph):
    # a row queued before ids were checked at intake
    execute(database_url, "insert into raw.webhook_deliveries (source, body_sha256, body_text)"
                          " values ('meta', 'x', '{}');"
                          " insert into raw.meta_leadgen_queue (leadgen_id, change_value,"
                          " delivery_id) select '../../me/accounts', '{}', delivery_id"
                          " from raw.webhook_deliveries")
    fetched: list[str] = []
    drain(settings, database_url, fetched.append, WorkerConfig())
    assert fetched == []
    assert query(database_url, "select status from raw.meta_leadgen_queue") == [("failed",)]
    # and the Graph client quotes whatever it is given as one path segment
    fetch = lead_fetcher(graph_settings(settings, fake_graph), sleep=lambda _: None)
    with pytest.raises(Exception):  # noqa: B017 - the fake knows no such lead
        fetch("../../me/accounts")
    assert all("/me/accounts" not in request["path"] for request in fake_graph.requests)
    assert any("..%2F..%2Fme%2Faccounts" in request["path"] for request in fake_graph.requests)


# --- connections that never finish their request ---------------------------------------------------
@pytest.fixture
def live_server(settings, database_url) -> Iterator[int]:
    """The app on uvicorn in a thread, with the serve protocol and deadlines of one second."""
    import threading

    import uvicorn

    from leadlink.receiver.protocol import HeaderDeadlineProtocol

    class QuickDeadline(HeaderDeadlineProtocol):
        header_timeout = 1.0

    port = free_port()
    app = create_app(settings, database_url, receiver_config(body_timeout=1.0))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, http=QuickDeadline,
                                           log_level="warning", timeout_keep_alive=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait_until(lambda: server.started, timeout=20, interval=0.05)
    yield port
    server.should_exit = True
    thread.join(timeout=10)


def _closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """(closed by the server in time, what it sent first)."""
    sock.settimeout(seconds)
    received = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return True, received
            received += chunk
    except TimeoutError:
        return False, received


@pytest.mark.parametrize("sent", [
    b"",  # connects and says nothing
    b"POST /webhooks/knowlarity HTTP/1.1\r\nHost: x\r\nX-Leadlink-Token: ",  # headers never end
])
def test_a_connection_that_never_finishes_its_headers_is_closed(live_server, sent):
    # uvicorn alone would keep both open for ever (timeout_keep_alive covers idle keep-alive only)
    with socket.create_connection(("127.0.0.1", live_server)) as sock:
        sock.sendall(sent)
        started = time.monotonic()
        closed, answer = _closed_within(sock, 5.0)
    assert closed and time.monotonic() - started < 3.0
    assert answer == b""


def test_a_body_that_never_arrives_whole_is_answered_408_and_closed(live_server, database_url):
    with socket.create_connection(("127.0.0.1", live_server)) as sock:
        sock.sendall(b"POST /webhooks/knowlarity HTTP/1.1\r\nHost: x\r\nX-Leadlink-Token: "
                     + TOKEN.encode() + b"\r\nContent-Length: 100\r\n\r\n{\"uuid\": ")
        started = time.monotonic()
        closed, answer = _closed_within(sock, 5.0)
    assert closed and time.monotonic() - started < 3.0
    assert answer.startswith(b"HTTP/1.1 408")
    assert count(database_url, "webhook_deliveries") == 0

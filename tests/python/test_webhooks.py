"""The webhook receiver (issue 7): authentication, storing before answering, idempotency, limits,
the leadgen worker against a failing-then-recovering Graph, and a real `leadlink serve`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import httpx
import psycopg2
import pytest

with warnings.catch_warnings():  # newer Starlette suggests httpx2 for its test client
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from dbhelpers import query
from loaders.config import Settings
from loaders.webhooks.app import ReceiverConfig, create_app
from loaders.webhooks.graph import lead_fetcher
from loaders.webhooks.signature import meta_signature
from loaders.webhooks.worker import WorkerConfig, drain

PROJECT_DIR = Path(__file__).resolve().parents[2]
SECRET = "test-app-secret"
VERIFY = "test-verify-token"
TOKEN = "test-knowlarity-token"
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
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
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
class ScriptedGraph:
    """Answers `GET /v20.0/{lead_id}` from a script of (status, body) then the lead itself."""

    def __init__(self, failures: list[tuple[int, dict]]) -> None:
        self.failures = list(failures)
        self.requests: list[str] = []

    def answer(self, path: str) -> tuple[int, dict]:
        self.requests.append(path)
        if self.failures:
            return self.failures.pop(0)
        return 200, graph_lead(path.rstrip("/").split("/")[-1])

    def transport(self) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            status, body = self.answer(request.url.path)
            return httpx.Response(status, json=body)

        return httpx.MockTransport(handler)


THROTTLED = (400, {"error": {"message": "custom rate limit", "type": "OAuthException",
                             "code": 613, "fbtrace_id": "x"}})
DOWN = (500, {"error": {"message": "unknown", "code": 1}})


def test_graph_failing_then_recovering_lands_the_lead_after_retries(client, settings, database_url):
    body = notification_bytes(LEADGEN_ID)
    assert client.post("/webhooks/meta", content=body, headers=signed(body)).status_code == 200
    graph = ScriptedGraph([DOWN, THROTTLED, DOWN, THROTTLED])
    env = {**settings.environ, "META_PAGE_ACCESS_TOKEN": "page-token",
           "META_GRAPH_URL": "http://graph.invalid", "LEADLINK_WEBHOOK_GRAPH_ATTEMPTS": "2"}
    worker_settings = Settings.from_environ(env)
    fetch = lead_fetcher(worker_settings, transport=graph.transport(), sleep=lambda _: None)
    config = WorkerConfig(retry_base_seconds=60.0)

    first = drain(worker_settings, database_url, fetch, config)
    assert (first.claimed, first.retried, first.landed) == (1, 1, 0)
    row = query(database_url, "select status, attempts, last_error, next_attempt_at > now()"
                              " from raw.meta_leadgen_queue")[0]
    assert row[:2] == ("pending", 1) and "613" in row[2] and row[3] is True
    assert "page-token" not in row[2]
    # Still backing off: a drain now does nothing.
    assert drain(worker_settings, database_url, fetch, config).claimed == 0
    for expected_retried in (1, 0):
        execute(database_url, "update raw.meta_leadgen_queue set next_attempt_at = now()")
        counts = drain(worker_settings, database_url, fetch, config)
        assert counts.retried == expected_retried
    assert query(database_url, "select status, attempts from raw.meta_leadgen_queue") == [("done", 3)]
    assert query(database_url, "select lead_id, landed_from, payload_shape from raw.meta_leads") == [
        (LEADGEN_ID, "webhook", "graph_lead")]
    assert graph.requests == [f"/v20.0/{LEADGEN_ID}"] * 5
    # A redelivery of a lead already fetched queues nothing and fetches nothing.
    assert client.post("/webhooks/meta", content=body, headers=signed(body)).status_code == 200
    assert drain(worker_settings, database_url, fetch, config).claimed == 0


def test_a_lead_graph_calls_final_is_parked_after_repeated_attempts(client, settings, database_url):
    body = notification_bytes("555000111222333")
    client.post("/webhooks/meta", content=body, headers=signed(body))
    gone = (400, {"error": {"message": "Object does not exist", "code": 100, "error_subcode": 33}})
    graph = ScriptedGraph([gone] * 3)
    env = {**settings.environ, "META_PAGE_ACCESS_TOKEN": "page-token",
           "META_GRAPH_URL": "http://graph.invalid"}
    fetch = lead_fetcher(Settings.from_environ(env), transport=graph.transport(),
                         sleep=lambda _: None)
    config = WorkerConfig(retry_base_seconds=60.0, fail_after=3)
    statuses = []
    for _ in range(3):
        execute(database_url, "update raw.meta_leadgen_queue set next_attempt_at = now()")
        drain(settings, database_url, fetch, config)
        statuses.append(query(database_url, "select status from raw.meta_leadgen_queue")[0][0])
    assert statuses == ["pending", "pending", "failed"]


# --- a real server -------------------------------------------------------------------------------
class FakeGraphHandler(BaseHTTPRequestHandler):
    calls: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        type(self).calls.append(self.path)
        lead_id = self.path.split("?")[0].rstrip("/").split("/")[-1]
        if len(type(self).calls) == 1:  # the first lookup fails: the worker must retry
            payload, status = json.dumps(DOWN[1]).encode(), 500
        else:
            payload, status = json.dumps(graph_lead(lead_id)).encode(), 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until(check, timeout: float = 30.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def test_leadlink_serve_end_to_end(leadlink_env, database_url, run_cli, tmp_path):
    FakeGraphHandler.calls = []
    graph = ThreadingHTTPServer(("127.0.0.1", 0), FakeGraphHandler)
    threading.Thread(target=graph.serve_forever, daemon=True).start()
    port = _free_port()
    env = {**os.environ, **leadlink_env, "META_APP_SECRET": SECRET, "META_VERIFY_TOKEN": VERIFY,
           "KNOWLARITY_WEBHOOK_TOKEN": TOKEN, "META_PAGE_ACCESS_TOKEN": "page-token",
           "META_GRAPH_URL": f"http://127.0.0.1:{graph.server_address[1]}",
           "LEADLINK_HTTP_BACKOFF_BASE": "0.01", "LEADLINK_WEBHOOK_POLL_SECONDS": "0.5",
           "LEADLINK_WEBHOOK_RETRY_BASE_SECONDS": "0.5"}
    server = subprocess.Popen(
        [sys.executable, "-m", "loaders.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: _healthy(base), timeout=60)
        body = notification_bytes(LEADGEN_ID, numeric=True)
        with httpx.Client(base_url=base) as http:
            assert http.post("/webhooks/meta", content=body, headers=signed(body)).status_code == 200
            response = http.post("/webhooks/knowlarity", json=WRAPPED,
                                 headers={"X-Leadlink-Token": TOKEN})
            assert response.status_code == 200
            assert http.post("/webhooks/knowlarity", json=WRAPPED).status_code == 401
        # The server's own worker fetches the lead (after one failed Graph answer).
        _wait_until(lambda: query(database_url, "select status from raw.meta_leadgen_queue")
                    == [("done",)], timeout=60)
        assert len(FakeGraphHandler.calls) >= 2
        assert query(database_url, "select lead_id, landed_from from raw.meta_leads") == [
            (LEADGEN_ID, "webhook")]
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            output, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
        graph.shutdown()
    assert server.returncode == 0, output
    assert SECRET not in output and TOKEN not in output and "page-token" not in output
    assert "9845012345" not in output and "9876543210" not in output

    # Build the models over what the webhooks landed.
    marts = (PROJECT_DIR / "models" / "marts" / "leads.sql").exists()
    selector = "+leads" if marts else "stg_meta_lead_ads__leads stg_knowlarity__calls"
    result = run_cli("dbt", "build", "--select", *selector.split())
    assert result.exit_code == 0, result.output
    if marts:
        rows = query(database_url, "select count(*) from analytics.leads where"
                                   " leads::text like %s", (f"%{LEADGEN_ID}%",))
        assert rows[0][0] >= 1
    else:
        staged = query(database_url, "select count(*) from information_schema.tables"
                                     " where table_name = 'stg_meta_lead_ads__leads'")
        assert staged[0][0] == 1


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False

"""A catalogue of poison records, landed through every entry point (file, API page, webhook, legacy
CSV, and a raw row landed before the checks existed): the good records land, each bad one is in
raw.quarantine or unlinkable_leads with its reason, and one `dbt build` stays green."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime
from pathlib import Path

from dbhelpers import query
from fakes.graph import FakeGraph
from fakes.knowlarity import FakeKnowlarity

with warnings.catch_warnings():  # newer Starlette suggests httpx2 for its test client
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from leadlink.receiver.app import ReceiverConfig, create_app
from leadlink.receiver.signature import meta_signature
from leadlink.receiver.worker import WorkerConfig, drain
from loaders.settings import Settings

NOW = datetime(2025, 12, 6, 12, 0, tzinfo=UTC)
START = "2025-12-06 16:00:00+05:30"
HUGE_PHONE = "9" * 900_000
FORM_ID = "911000000000002"
SECRET, TOKEN = "poison-secret", "poison-token"
FAST_HTTP = {"LEADLINK_HTTP_BACKOFF_BASE": "0.001", "LEADLINK_HTTP_MAX_ATTEMPTS": "2"}


def call(uuid: str, phone: object = "+919845011001", **extra: object) -> dict:
    return {"uuid": uuid, "customer_number": phone, "start_time": START, "call_duration": 30,
            **extra}


def lead(lead_id: str, phone: str = "+919845012001", **extra: object) -> dict:
    return {"id": lead_id, "created_time": "2025-12-06T07:52:10+0000", "form_id": FORM_ID,
            "field_data": [{"name": "phone_number", "values": [phone]}], **extra}


def file_lines() -> bytes:
    lines = [json.dumps(call("call-file-good")).encode(),
             json.dumps(call("call-file-anonymous", "anonymous")).encode(),
             b'{"uuid": "call-file-bigint", "call_duration": ' + b"7" * 5000 + b"}",
             b'{"uuid": "call-file-nan", "call_duration": NaN}',
             b'{"uuid": "call-file-1e400", "call_duration": 1e400}',
             b'{"uuid": "call-file-latin1", "customer_number": "caf\xe9"}',
             json.dumps(call("call-file-huge", HUGE_PHONE)).encode(),
             json.dumps(call("call-file-float", 9.845011002e9)).encode(),
             json.dumps(call("call-file-object", {"n": 1})).encode(),
             b'{"event": "call.completed", "data": [1, 2]}',
             b"[" * 100_000 + b"]" * 100_000]
    return b"\n".join(lines) + b"\n"


def legacy_leads() -> bytes:
    return (b"id,full_name,phone_number_normalized,created_at\n"
            b"1,Good Lead,9845013001,2025-12-01T10:00:00+00:00\n"
            b"2,No Phone,,2025-12-01T10:00:00+00:00\n"
            b"3,Ragged,9845013003,2025-12-01T10:00:00+00:00,extra\n"
            b"4,Nul\x00Byte,9845013004,\n"
            b"5,Huge Phone," + HUGE_PHONE.encode() + b",\n")


# what must be in raw.quarantine: (source, landed_from prefix, reason fragment)
EXPECTED_QUARANTINE = [
    ("knowlarity", "file:", "integer of 5000 digits"),
    ("knowlarity", "file:", "NaN is not a JSON number"),
    ("knowlarity", "file:", "beyond a double's range"),
    ("knowlarity", "file:", "not UTF-8 text"),
    ("knowlarity", "file:", "customer_number is 900000 characters, over the 64-character"),
    ("knowlarity", "file:", "a number with a fraction or exponent"),
    ("knowlarity", "file:", "customer_number is an object, expected text"),
    ("knowlarity", "file:", "unrecognised Knowlarity shape"),
    ("knowlarity", "file:", "nested too deeply"),
    ("meta", "file:", "Meta lead id is not all digits"),
    ("knowlarity", "api:", "NaN is not a JSON number"),
    ("knowlarity", "api:", "over the 64-character phone limit"),
    ("meta", "api:", "field_data is an object, expected an array"),
    ("meta", "api:", "Infinity is not a JSON number"),
    ("knowlarity", "webhook", "over the 64-character phone limit"),
    ("knowlarity", "webhook", "empty Knowlarity webhook body"),
    ("meta", "webhook", "NUL character"),
    ("meta", "webhook", "leadgen_id is not all digits"),
    ("legacy", "file:", "the row has 5 fields, the header 4"),
    ("legacy", "file:", "NUL byte"),
    ("legacy", "file:", "phone_number_normalized is 900000 characters"),
]


def land_files(run_cli, tmp_path: Path) -> None:
    calls = tmp_path / "poison.jsonl"
    calls.write_bytes(file_lines())
    result = run_cli("load", "file", "--source", "knowlarity", str(calls))
    assert result.exit_code == 0, result.output
    assert "landed 2, already present 0, quarantined 9" in result.stdout
    leads = tmp_path / "leads.json"
    leads.write_text(json.dumps({"data": [lead("700000000000001"), lead("not-a-lead-id")]}))
    result = run_cli("load", "file", "--source", "meta", str(leads))
    assert "landed 1, already present 0, quarantined 1" in result.stdout, result.output


def land_api_pages(run_cli) -> None:
    calls = [call("call-api-good", "+919845011101"), call("call-api-nan", call_duration=float("nan")),
             call("call-api-huge", HUGE_PHONE)]
    with FakeKnowlarity(calls) as knowlarity:
        result = run_cli("load", "knowlarity", "--since", "2025-12-06T10:00:00Z", "--until",
                         NOW.isoformat(), extra_env={**knowlarity.env(), **FAST_HTTP})
        assert result.exit_code == 0, result.output
    leads = [lead("700000000000101", "+919845012101"), lead("700000000000102", field_data={"phone": "1"}),
             lead("700000000000103", score=float("inf"))]
    forms = [{"id": FORM_ID, "name": "Form", "status": "ACTIVE"}]
    with FakeGraph(forms, {FORM_ID: leads}) as graph:
        result = run_cli("load", "meta", "--since", "2025-12-05T00:00:00Z", "--until",
                         NOW.isoformat(), extra_env={**graph.env(), **FAST_HTTP})
        assert result.exit_code == 0, result.output


def land_webhooks(settings: Settings, database_url: str) -> None:
    config = ReceiverConfig(meta_app_secret=SECRET, meta_verify_token="v", knowlarity_token=TOKEN,
                            pool_size=2, run_worker=False)
    with TestClient(create_app(settings, database_url, config)) as client:
        for body in (json.dumps(call("call-hook-huge", HUGE_PHONE)).encode(), b"",
                     json.dumps(call("call-hook-good", "+919845011201")).encode()):
            response = client.post("/webhooks/knowlarity", content=body,
                                   headers={"X-Leadlink-Token": TOKEN})
            assert response.status_code == 200, response.text
        body = (b'{"object":"page","entry":[{"id":"1","time":1,"changes":['
                b'{"field":"leadgen","value":{"leadgen_id":"700000000000201"}},'
                b'{"field":"leadgen","value":{"leadgen_id":"700000000000202","ad_id":"\\u0000"}},'
                b'{"field":"leadgen","value":{"leadgen_id":"../../me/accounts"}}]}]}')
        response = client.post("/webhooks/meta", content=body, headers={
            "X-Hub-Signature-256": meta_signature(SECRET, body)})
        assert response.json()["queued"] == 1, response.text
    counts = drain(settings, database_url, lambda leadgen_id: lead(leadgen_id, "+919845012201"),
                   WorkerConfig())
    assert counts.landed == 1


def land_a_raw_row_from_before_the_checks(database_url: str) -> None:
    """A row landed before the loaders checked phone lengths: staging must cap it."""
    import psycopg2

    conn = psycopg2.connect(database_url)
    with conn, conn.cursor() as cursor:
        cursor.execute("insert into raw.load_batches (source, method, status) values"
                       " ('knowlarity', 'file', 'succeeded') returning batch_id")
        batch_id = cursor.fetchone()[0]
        payload = json.dumps(call("call-raw-huge", HUGE_PHONE))
        cursor.execute("insert into raw.knowlarity_calls (call_uuid, payload, payload_shape,"
                       " payload_md5, batch_id, landed_from) values"
                       " ('call-raw-huge', %s, 'calllog', md5(%s), %s, 'file:old')",
                       (payload, payload, batch_id))
    conn.close()


def test_every_poison_record_is_quarantined_or_unlinkable_and_the_build_stays_green(
        run_cli, settings, database_url, tmp_path):
    land_files(run_cli, tmp_path)
    land_api_pages(run_cli)
    land_webhooks(settings, database_url)
    legacy = tmp_path / "leads.csv"
    legacy.write_bytes(legacy_leads())
    result = run_cli("load", "legacy", "--leads", str(legacy))
    assert result.exit_code == 0, result.output
    assert "landed 2, quarantined 3" in result.stdout
    land_a_raw_row_from_before_the_checks(database_url)

    quarantined = query(database_url, "select source, landed_from, reason, batch_id is not null"
                                      " from raw.quarantine")
    missing = [expected for expected in EXPECTED_QUARANTINE
               if not any(source == expected[0] and landed_from.startswith(expected[1])
                          and expected[2] in reason for source, landed_from, reason, _ in quarantined)]
    assert missing == [], quarantined
    assert all(has_batch for *_, has_batch in quarantined)
    assert query(database_url, "select count(*) from raw.load_batches where status = 'running'") == [
        (0,)]

    built = run_cli("dbt", "build")
    assert built.exit_code == 0, built.output[-3000:]

    linked = {row[0] for row in query(database_url, "select external_lead_id from analytics.leads"
                                                    " where customer_id is not null")}
    assert {"call-file-good", "call-api-good", "call-hook-good", "700000000000001",
            "700000000000101", "700000000000201"} <= linked
    unlinkable = {(row[0] or f"crm:{row[1]}"): (row[2], row[3]) for row in query(
        database_url, "select external_lead_id, legacy_lead_id, reason, left(phone_raw, 80)"
                      " from analytics.unlinkable_leads")}
    assert unlinkable["call-raw-huge"] == ("not_a_number", "<oversized value: not a phone number>")
    assert unlinkable["call-file-anonymous"] == ("not_a_number", "anonymous")
    assert unlinkable["crm:2"][0] == "empty"
    assert query(database_url, "select max(length(phone_raw)) <= 64"
                               " from analytics_intermediate.int_phone_numbers") == [(True,)]
    # nothing poisoned was landed silently changed: no null where a number was sent
    assert query(database_url, "select count(*) from raw.knowlarity_calls"
                               " where payload -> 'call_duration' = 'null'::jsonb") == [(0,)]


def test_poison_lines_cost_only_themselves_in_a_big_file(run_cli, database_url, tmp_path):
    good = [json.dumps(call(f"call-bulk-{index}", f"+9198450{index:05d}")).encode()
            for index in range(2000)]
    lines = good[:1000] + [b'{"uuid": "x", "n": ' + b"1" * 5000 + b"}", b"\xff\xfe\xfd"] + good[1000:]
    path = tmp_path / "bulk.jsonl"
    path.write_bytes(b"\n".join(lines))
    result = run_cli("load", "file", "--source", "knowlarity", str(path))
    assert result.exit_code == 0, result.output
    assert "landed 2000, already present 0, quarantined 2" in result.stdout
    assert query(database_url, "select count(*) from raw.quarantine where reason like"
                               " 'not UTF-8 text (bulk.jsonl line 1002%%'") == [(1,)]

"""Raw landing through `leadlink load file`: shapes, idempotency, versions, quarantine."""

from __future__ import annotations

import json
from pathlib import Path

from dbhelpers import query

CALLLOG_PAGE = {
    "meta": {"limit": 3, "next": "", "offset": 0, "previous": "", "total_count": 3},
    "objects": [
        {"uuid": "call-1", "customer_number": "+919876543210", "start_time": "2025-12-06 11:11:21+05:30"},
        {"uuid": "call-2", "customer_number": "", "caller_id": "09876543210", "call_duration": 0},
        {"customer_number": "9876543210"},
    ],
}
WRAPPED = {"event": "call.completed", "data": {"uuid": "call-1", "customer_number": "9876543210"},
           "timestamp": "2025-12-06T11:16:14+05:30"}
SR_HOOK = {"callid": "call-3", "dispnumber": "+918030001111", "caller_id": "+91 98765-43210",
           "call_duration": "12", "start_time": "2016-09-27 03:49:44.391601+00:00"}
LIVE_EVENT = {"event_type": "ORIGINATE", "uuid": "call-4", "customer_number": "9000000001",
              "event_date_local": "2025-12-06 11:00:00"}
LIVE_CDR = {"type": "CDR", "uuid": "call-4", "caller": "9000000001", "Call_Type": "Incoming"}
META_PAGE = {
    "data": [
        {"id": "123456789012345", "created_time": "2024-01-01T10:00:00+0000",
         "field_data": [{"name": "phone_number", "values": ["+919876543210"]}]},
        {"id": 223456789012345678, "created_time": "2024-01-02T10:00:00+0000", "field_data": []},
        {"created_time": "2024-01-03T10:00:00+0000", "field_data": []},
    ],
    "paging": {"cursors": {"before": "a", "after": "b"}},
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_knowlarity_shapes_land_once_and_bad_records_are_quarantined(run_cli, database_url, tmp_path):
    page = write(tmp_path, "page.json", json.dumps(CALLLOG_PAGE))
    hooks = write(tmp_path, "hooks.jsonl", "\n".join([
        json.dumps(WRAPPED), json.dumps(SR_HOOK), "data: " + json.dumps(LIVE_EVENT),
        json.dumps(LIVE_CDR), "{not json", json.dumps({"hello": "world"}), "",
    ]))
    first = run_cli("load", "file", "--source", "knowlarity", str(page), str(hooks))
    assert first.exit_code == 0, first.output
    assert "page.json: landed 2, already present 0, quarantined 1" in first.stdout
    assert "hooks.jsonl: landed 4, already present 0, quarantined 2" in first.stdout

    second = run_cli("load", "file", "--source", "knowlarity", str(page), str(hooks))
    assert "total: landed 0, already present 6, quarantined 3" in second.stdout

    shapes = dict(query(database_url, "select payload_shape, count(*) from raw.knowlarity_calls"
                                      " group by 1"))
    assert shapes == {"calllog": 2, "webhook_wrapped": 1, "sr_hook_cdr": 1, "live_event": 1,
                      "live_cdr": 1}
    reasons = sorted(row[0] for row in query(database_url, "select reason from raw.quarantine"))
    assert reasons[0] == "Knowlarity call without uuid"
    assert reasons[1].startswith("not valid JSON (line 5")
    assert reasons[2].startswith("unrecognised Knowlarity shape")
    batches = query(database_url, "select status, records_landed, records_already_present"
                                  " from raw.load_batches order by batch_id")
    assert batches == [("succeeded", 6, 0), ("succeeded", 0, 6)]


def test_a_changed_version_is_kept_beside_the_old_one(run_cli, database_url, tmp_path):
    original = {"uuid": "call-9", "customer_number": "9876543210", "call_recording": ""}
    changed = {**original, "call_recording": "https://konnect.knowlarity.com/x/call-9"}
    run_cli("load", "file", "--source", "knowlarity", str(write(tmp_path, "a.json", json.dumps(original))))
    # Same content, other key order and spacing: the same version.
    run_cli("load", "file", "--source", "knowlarity",
            str(write(tmp_path, "b.json", json.dumps(dict(reversed(original.items())), indent=2))))
    run_cli("load", "file", "--source", "knowlarity", str(write(tmp_path, "c.json", json.dumps(changed))))
    rows = query(database_url, "select payload ->> 'call_recording' from raw.knowlarity_calls"
                               " where call_uuid = 'call-9' order by raw_id")
    assert rows == [("",), ("https://konnect.knowlarity.com/x/call-9",)]


def test_meta_ids_as_numbers_stay_exact_and_missing_ids_are_quarantined(run_cli, database_url, tmp_path):
    page = write(tmp_path, "leads.json", json.dumps(META_PAGE))
    result = run_cli("load", "file", "--source", "meta", str(page))
    assert "landed 2, already present 0, quarantined 1" in result.stdout
    ids = sorted(row[0] for row in query(database_url, "select lead_id from raw.meta_leads"))
    assert ids == ["123456789012345", "223456789012345678"]


def test_unstorable_and_non_utf8_input_is_quarantined_not_fatal(run_cli, database_url, tmp_path):
    nul = write(tmp_path, "nul.json", json.dumps({"uuid": "call-nul", "customer_number": "a\u0000b"}))
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe{not text")
    good = write(tmp_path, "good.json", json.dumps({"uuid": "call-ok", "customer_number": "1"}))
    result = run_cli("load", "file", "--source", "knowlarity", str(nul), str(binary), str(good))
    assert result.exit_code == 0, result.output
    assert "total: landed 1, already present 0, quarantined 2" in result.stdout
    reasons = sorted(row[0] for row in query(database_url, "select reason from raw.quarantine"))
    assert any("NUL" in reason for reason in reasons)
    assert any("not UTF-8" in reason for reason in reasons)


def test_meta_leadgen_notification_in_a_file_is_quarantined_with_guidance(run_cli, database_url, tmp_path):
    body = {"object": "page", "entry": [{"id": "1", "time": 1, "changes": [
        {"field": "leadgen", "value": {"leadgen_id": "444", "form_id": "f"}}]}]}
    result = run_cli("load", "file", "--source", "meta", str(write(tmp_path, "hook.json", json.dumps(body))))
    assert "quarantined 1" in result.stdout
    assert "leadgen webhook" in query(database_url, "select reason from raw.quarantine")[0][0]


def test_canonical_json_is_json_dumps_sorted_whatever_the_payload():
    import json

    from loaders.landing import canonical_json

    payloads = [
        {"uuid": "u1", "b": [1, 2.5, None, True], "a": {"z": "é\u2028\u0905", "y": "\x1f</x>"}},
        {"big": 123456789012345678901234567890, "id": "1"},  # beyond 64 bits: json.dumps
        {"lone": "\ud800"},  # a lone surrogate: json.dumps writes it, landing then rejects it
        [1e16, 0.1, -0.0, 2 ** 63],
    ]
    for payload in payloads:
        assert canonical_json(payload) == json.dumps(
            payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def test_a_pretty_printed_page_is_read_whole_and_a_broken_first_line_costs_only_itself(
        run_cli, database_url, tmp_path):
    page = write(tmp_path, "pretty.json", json.dumps(CALLLOG_PAGE, indent=2))
    lines = write(tmp_path, "lines.jsonl", "{not json\n" + json.dumps(WRAPPED) + "\n")
    result = run_cli("load", "file", "--source", "knowlarity", str(page), str(lines))
    assert "pretty.json: landed 2, already present 0, quarantined 1" in result.stdout
    assert "lines.jsonl: landed 1, already present 0, quarantined 1" in result.stdout


def test_landing_batch_ends_succeeded_or_failed_with_the_error(settings, database_url):
    import psycopg2
    import pytest

    from loaders.landing import landing_batch, quarantine

    conn = psycopg2.connect(database_url)
    try:
        with landing_batch(conn, settings, "knowlarity", "file", {"files": ["a"]}) as batch:
            with conn.cursor() as cursor:  # an empty original text is kept as ''
                quarantine(cursor, settings, "knowlarity", [("empty body", "")], batch.batch_id,
                           "file:a")
            conn.commit()
            batch.counts.quarantined = 1
        with pytest.raises(RuntimeError), landing_batch(conn, settings, "meta", "api") as batch:
            with conn.cursor() as cursor:
                cursor.execute("select 1")  # an open transaction, rolled back on failure
            raise RuntimeError("Graph went away")
        # a connection that broke: the failure is recorded over a new one
        with pytest.raises(psycopg2.OperationalError), landing_batch(
                conn, settings, "meta", "api", url=database_url):
            with conn.cursor() as cursor:
                cursor.execute("select pg_terminate_backend(pg_backend_pid())")
    finally:
        conn.close()
    batches = query(database_url, "select source, status, records_quarantined,"
                                  " left(detail ->> 'error', 30) from raw.load_batches"
                                  " order by batch_id")
    assert batches[:2] == [("knowlarity", "succeeded", 1, None),
                           ("meta", "failed", 0, "RuntimeError: Graph went away")]
    assert batches[2][:2] == ("meta", "failed") and batches[2][3].startswith("OperationalError")
    assert query(database_url, "select original_text from raw.quarantine") == [("",)]
    assert query(database_url, "select count(*) from raw.load_batches where status = 'running'"
                               " or finished_at is null") == [(0,)]

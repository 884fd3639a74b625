"""samples/ is exactly what scripts/generate_samples.py writes, and holds the cases it promises."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import phonenumbers
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
SEED_FILES = ["knowlarity_number_branches.csv", "meta_form_branches.csv"]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("samples")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "generate_samples.py"), "--out",
                    str(out / "samples"), "--seeds-dir", str(out / "seeds")],
                   check=True, capture_output=True)
    return out


def _files(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.suffix in {".json", ".jsonl", ".csv"}}


def _pages() -> list[dict]:
    return [json.loads(path.read_text()) for path in
            sorted(SAMPLES.glob("knowlarity/calllog_page_*.json"),
                   key=lambda path: int(path.stem.rsplit("_", 1)[1]))]


def _meta_leads() -> list[dict]:
    leads = []
    for path in sorted(SAMPLES.glob("meta/*")):
        if path.suffix == ".json":
            documents = [json.loads(path.read_text())]
        elif path.suffix == ".jsonl":
            documents = [json.loads(line) for line in path.read_text().splitlines()]
        else:
            continue
        for document in documents:
            leads.extend(document["data"] if "data" in document else [document])
    return leads


def test_committed_samples_are_what_the_script_writes(regenerated: Path) -> None:
    assert _files(regenerated / "samples") == _files(SAMPLES)
    for name in SEED_FILES:
        assert (regenerated / "seeds" / name).read_bytes() == (ROOT / "seeds" / name).read_bytes()


def test_calllog_pages_cover_every_customer_number_form() -> None:
    objects = [call for page in _pages() for call in page["objects"]]
    shapes = Counter()
    for call in objects:
        value = call.get("customer_number", "<absent>")
        shapes["null" if value is None else re.sub(r"\d", "9", value)] += 1
    for shape in ["+999999999999", "9999999999", "99999999999", "999999999999",
                  "+99 99999-99999", "anonymous", "", "null", "<absent>"]:
        assert shapes[shape], shape
    assert any(call.get("customer_number") == "+918040001234" for call in objects)
    assert any(str(call.get("customer_number", "")).startswith("+971") for call in objects)
    assert all("caller_id" in call for call in objects if "customer_number" not in call)
    assert {type(call.get("Call_Type")) for call in objects} >= {int, str}
    assert any(call["call_duration"] == 0 and call["call_recording"] == "" for call in objects)


def test_live_list_shift_and_a_call_without_uuid() -> None:
    pages = _pages()
    uuids = Counter(call.get("uuid") for page in pages for call in page["objects"])
    assert [key for key, count in uuids.items() if count > 1 and key] == [
        pages[1]["objects"][0]["uuid"]]
    assert pages[0]["objects"][-1]["uuid"] == pages[1]["objects"][0]["uuid"]
    assert pages[1]["meta"]["total_count"] == pages[0]["meta"]["total_count"] + 1
    assert uuids[None] == 1
    assert pages[-1]["meta"]["next"] == "" and pages[0]["meta"]["previous"] == ""


def test_webhooks_hold_every_shape_and_two_bad_lines() -> None:
    lines = (SAMPLES / "knowlarity" / "webhooks.jsonl").read_text().splitlines()
    bodies, invalid = [], 0
    for line in lines:
        try:
            bodies.append(json.loads(line))
        except json.JSONDecodeError:
            invalid += 1
    assert invalid == 1
    kinds = Counter()
    for body in bodies:
        if "event" in body and "data" in body:
            kinds["wrapped"] += 1
        elif "callid" in body:
            kinds["sr_hook"] += 1
            assert isinstance(body["call_duration"], str)
            assert body["start_time"].endswith("+00:00") and body["end_time"].endswith("+05:30")
        elif "event_type" in body:
            kinds["live_event"] += 1
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", body["event_date_local"])
        elif body.get("type") == "CDR":
            kinds["live_cdr"] += 1
            assert body["Call_Type"] in {"Incoming", "Outgoing"}
        elif "uuid" in body:
            kinds["flat"] += 1
        else:
            kinds["unknown"] += 1
    assert kinds["unknown"] == 1
    assert all(kinds[kind] for kind in ["wrapped", "sr_hook", "live_event", "live_cdr", "flat"])
    pushed = {body.get("uuid") or body.get("callid") or body.get("data", {}).get("uuid")
              for body in bodies}
    pulled = {call.get("uuid") for page in _pages() for call in page["objects"]}
    assert len(pushed & pulled) >= 20  # the same calls arrive by pull and by push
    assert pushed - pulled - {None}  # and some only by push


def test_meta_leads_carry_the_reference_quirks() -> None:
    leads = _meta_leads()
    assert sum(1 for lead in leads if "id" not in lead) == 1
    ids = [lead["id"] for lead in leads if "id" in lead]
    assert all(re.fullmatch(r"\d{15,17}", lead_id) for lead_id in ids)
    assert len(set(ids)) >= 150 and len(ids) > len(set(ids))  # re-reads repeat some
    names = Counter(item["name"] for lead in leads for item in lead["field_data"])
    for key in ["full_name", "first_name", "last_name", "FULL_NAME", "PHONE", "phone_number",
                "mobile", "mobile_number", "mobile_phone", "phone_number_with_country_code",
                "contact_number", "whatsapp_number", "which_car_model_are_you_interested_in?"]:
        assert names[key], key
    values = [item["values"][0] for lead in leads for item in lead["field_data"]]
    assert "<test lead: dummy data for phone_number>" in values
    assert "test@meta.com" in values
    assert any(re.fullmatch(r"0\d{5} \d{5}", value) for value in values)
    assert any(value.startswith("+91 (0) ") for value in values)
    assert any(re.fullmatch(r"\d{5}", value) for value in values)
    assert any(re.search("[\u0900-\u097f]", value) for value in values)
    assert {len(lead["ad_id"]) for lead in leads if "ad_id" in lead} >= {17, 18}
    assert any(lead.get("is_organic") and "ad_id" not in lead for lead in leads)
    assert {lead.get("platform") for lead in leads} >= {"fb", "ig"}
    page_one = (SAMPLES / "meta" / "leads_page_1.json").read_text()
    assert "\\u0040" in page_one and "@" not in page_one
    assert all(path.read_bytes().isascii() for path in SAMPLES.glob("meta/*"))


def test_legacy_export_is_the_naive_backfill() -> None:
    def read(name: str) -> list[dict[str, str]]:
        with open(SAMPLES / "legacy" / name, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    leads, customers = read("leads_master.csv"), read("customers.csv")
    stored = {row["phone_number_normalized"] for row in leads if row["phone_number_normalized"]}
    phones = [row["phone_number_normalized"] for row in customers]
    assert len(phones) == len(set(phones)) and set(phones) <= stored
    by_id = {row["id"]: row["phone_number_normalized"] for row in customers}
    assert all(by_id[row["customer_id"]] == row["phone_number_normalized"]
               for row in leads if row["customer_id"])
    assert 0.3 < sum(1 for row in leads if not row["customer_id"]) / len(leads) < 0.6
    assert {"9999999999"} <= set(phones)
    e164s = Counter()
    for phone in phones:
        try:
            number = phonenumbers.parse(phone, "IN")
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            e164s[phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)] += 1
    assert sum(1 for count in e164s.values() if count > 1) >= 5  # one person, several customers
    assert {row["status"] for row in leads} == {"New", "Pending", "Qualified", "Unqualified",
                                                 "Lost"}
    samples_text = "".join(path.read_text() for path in SAMPLES.glob("*/*.json*"))
    assert sum(1 for row in leads if row["external_lead_id"]
               and row["external_lead_id"] in samples_text) >= 20


def test_branch_seeds_leave_one_number_and_one_form_unmapped() -> None:
    def column(name: str, key: str) -> set[str]:
        with open(ROOT / "seeds" / name, newline="") as handle:
            return {row[key] for row in csv.DictReader(handle)}

    numbers = column("knowlarity_number_branches.csv", "knowlarity_number")
    forms = column("meta_form_branches.csv", "form_id")
    used_numbers = {call["knowlarity_number"] for page in _pages() for call in page["objects"]}
    used_forms = {lead["form_id"] for lead in _meta_leads() if "form_id" in lead}
    assert len(used_numbers - numbers) == 1 and numbers <= used_numbers
    assert len(used_forms - forms) == 1 and forms <= used_forms

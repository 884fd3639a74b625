"""scripts/generate_legacy_crm.py: the synthetic CRM export behind the 1M-row benchmark.

Small N only; the speed at 1M rows is measured by hand / benchmarks, never asserted here.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import phonenumbers
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "generate_legacy_crm.py"
ROWS = 4000
LEADS_HEADER = ["id", "full_name", "phone_number_normalized", "alternate_phone_number",
                "source_id", "external_lead_id", "status", "raw_payload", "assigned_to",
                "branch_id", "customer_id", "created_at", "updated_at"]
CUSTOMERS_HEADER = ["id", "phone_number_normalized", "full_name", "email", "city", "created_at",
                    "updated_at"]
STATUSES = {"New", "Pending", "Qualified", "Unqualified", "Lost"}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\+05:30$")


def _load_module():
    spec = importlib.util.spec_from_file_location("generate_legacy_crm", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _generate(out: Path, rows: int = ROWS, seed: int = 7) -> Path:
    module = _load_module()
    assert module.main(["--rows", str(rows), "--out", str(out), "--seed", str(seed),
                        "--quiet"]) == 0
    return out


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _raw_cells(path: Path, column: str) -> list[str]:
    """The cell text as written (to tell a quoted empty string from an unquoted NULL)."""
    with open(path, encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split(",")
        index = header.index(column)
        cells = []
        for line in handle:
            if '"{' in line:  # raw_payload holds commas; phones come before it
                line = line[:line.index('"{')]
            cells.append(line.rstrip("\n").split(",")[index])
        return cells


def _digest(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _generate(tmp_path_factory.mktemp("crm"))


def test_files_parse_with_the_crm_headers_and_row_counts(export: Path) -> None:
    leads = _read(export / "leads_master.csv")
    customers = _read(export / "customers.csv")
    truth = _read(export / "truth.csv")
    sources = _read(export / "sources.csv")
    assert list(leads[0]) == LEADS_HEADER
    assert list(customers[0]) == CUSTOMERS_HEADER
    assert list(truth[0]) == ["lead_id", "person_id", "true_e164"]
    assert len(leads) == ROWS
    assert len(truth) == ROWS
    assert [row["source_type"] for row in sources] == ["meta_form", "knowlarity_call", "walk_in"]
    assert sorted(int(row["id"]) for row in leads) == list(range(1, ROWS + 1))
    for row in leads:
        assert row["status"] in STATUSES
        assert TIMESTAMP.match(row["created_at"]) and TIMESTAMP.match(row["updated_at"])
        assert row["updated_at"] >= row["created_at"]
        assert row["source_id"] in {"1", "2", "3"}
        if row["raw_payload"]:
            payload = json.loads(row["raw_payload"])
            assert payload.get("uuid", payload.get("id")) == row["external_lead_id"]
    counted = {row["id"]: int(row["total_leads_count"]) for row in sources}
    actual = Counter(row["source_id"] for row in leads)
    for source_id, total in counted.items():
        assert 0 <= actual[source_id] - total <= actual[source_id] // 100 + 1  # racy, lagging


def test_ids_are_in_time_order(export: Path) -> None:
    created = [row["created_at"] for row in _read(export / "leads_master.csv")]
    assert created == sorted(created)


def test_customers_are_the_naive_backfill(export: Path) -> None:
    leads = _read(export / "leads_master.csv")
    customers = _read(export / "customers.csv")
    by_id = {row["id"]: row["phone_number_normalized"] for row in customers}
    phones = [row["phone_number_normalized"] for row in customers]
    assert len(phones) == len(set(phones)), "phone_number_normalized must be unique"
    assert all(phones)
    stored = {row["phone_number_normalized"] for row in leads if row["phone_number_normalized"]}
    assert set(phones) == stored  # one customer per distinct non-empty stored string
    linked = [row for row in leads if row["customer_id"]]
    for row in linked:
        assert by_id[row["customer_id"]] == row["phone_number_normalized"]
    assert 0.5 < len(linked) / len(leads) < 0.7
    assert not [row for row in leads if row["customer_id"] and not row["phone_number_normalized"]]


def test_truth_is_consistent_with_the_stored_phones(export: Path) -> None:
    leads = {row["id"]: row for row in _read(export / "leads_master.csv")}
    truth = _read(export / "truth.csv")
    assert {row["lead_id"] for row in truth} == set(leads)
    e164_of_person: dict[str, set[str]] = defaultdict(set)
    for row in truth:
        stored = leads[row["lead_id"]]["phone_number_normalized"]
        e164 = row["true_e164"]
        if not e164:
            continue
        e164_of_person[row["person_id"]].add(e164)
        parsed = phonenumbers.parse(e164)
        assert phonenumbers.is_valid_number(parsed), e164
        assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == e164
        digits = re.sub(r"\D", "", stored)
        # every usable stored form keeps the whole national number of the true E.164
        assert e164.lstrip("+").endswith(digits[-10:]), (stored, e164)
        if e164.startswith("+91"):
            assert phonenumbers.parse(stored, "IN") == parsed, (stored, e164)
        else:  # foreign numbers were stored with all their digits
            assert digits == e164[1:], (stored, e164)
    assert all(len(numbers) == 1 for numbers in e164_of_person.values())


def test_unusable_rows_have_no_true_number(export: Path) -> None:
    leads = {row["id"]: row for row in _read(export / "leads_master.csv")}
    kinds: Counter[str] = Counter()
    for row in _read(export / "truth.csv"):
        if row["true_e164"]:
            continue
        stored = leads[row["lead_id"]]["phone_number_normalized"]
        digits = re.sub(r"\D", "", stored)
        if not stored:
            kinds["empty_or_null"] += 1
        elif len(digits) < 10:
            kinds["truncated"] += 1
            number = phonenumbers.parse(stored, "IN")
            assert not phonenumbers.is_valid_number(number), stored
        else:
            kinds["junk"] += 1
            assert len(set(digits)) <= 2 or digits in {"1234567890", "9876543210"}, stored
    assert kinds["empty_or_null"] and kinds["truncated"] and kinds["junk"]


def test_empty_strings_and_nulls_both_occur(export: Path) -> None:
    cells = Counter(_raw_cells(export / "leads_master.csv", "phone_number_normalized"))
    assert cells[""] > 0  # NULL
    assert cells['""'] > 0  # an empty string


def test_one_person_takes_several_stored_forms(export: Path) -> None:
    leads = {row["id"]: row for row in _read(export / "leads_master.csv")}
    forms: dict[str, set[str]] = defaultdict(set)
    for row in _read(export / "truth.csv"):
        if row["true_e164"]:
            forms[row["person_id"]].add(leads[row["lead_id"]]["phone_number_normalized"])
    several = [person for person, stored in forms.items() if len(stored) >= 2]
    assert len(several) > len(forms) // 10
    shapes = set()
    for stored_set in forms.values():
        for stored in stored_set:
            if stored.startswith("+91"):
                shapes.add("plus91_spaced" if " " in stored else "plus91")
            elif stored.startswith("91") and len(stored) == 12:
                shapes.add("all_digits_91")
            elif stored.startswith("0"):
                shapes.add("trunk0")
            elif re.fullmatch(r"[6-9]\d{9}", stored):
                shapes.add("last10")
            elif re.fullmatch(r"(971|44|1)\d+", stored):
                shapes.add("foreign_all_digits")
    assert {"plus91", "plus91_spaced", "all_digits_91", "trunk0", "last10",
            "foreign_all_digits"} <= shapes
    per_person = Counter(row["person_id"] for row in _read(export / "truth.csv"))
    assert 2.0 <= ROWS / len(per_person) <= 3.2  # persons average ~2-3 leads


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    first = _digest(_generate(tmp_path / "a", rows=500, seed=3))
    second = _digest(_generate(tmp_path / "b", rows=500, seed=3))
    other = _digest(_generate(tmp_path / "c", rows=500, seed=4))
    assert first == second
    assert first["leads_master.csv"] != other["leads_master.csv"]


def test_cli_help_documents_the_format() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True,
                            text=True, check=True)
    for word in ("--rows", "--out", "--seed", "format:", "truth.csv", "customers.csv"):
        assert word in result.stdout


def test_rows_must_be_positive(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--rows", "0", "--out",
                             str(tmp_path)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "--rows" in result.stderr

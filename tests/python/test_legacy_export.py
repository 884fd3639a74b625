"""`leadlink load legacy`: the CRM export lands, bad rows are quarantined, live tables are safe."""

from __future__ import annotations

from pathlib import Path

import psycopg2
import pytest
from dbhelpers import query


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def export(tmp_path: Path) -> dict[str, Path]:
    return {
        "sources": write(tmp_path, "sources.csv", "id,display_name,source_type,unknown\n"
                         "1,Meta,meta_form,x\n2,Knowlarity,knowlarity_call,y\n"),
        "customers": write(tmp_path, "customers.csv", "id,phone_number_normalized,full_name,email\n"
                           "10,9876543210,Asha,\n11,919876543210,Asha K,a@x.com\n"
                           "12,9876543210,Dup phone,\n13,,No phone,\n"),
        "leads": write(tmp_path, "leads.csv",
                       "id,full_name,phone_number_normalized,source_id,status,customer_id,created_at,raw_payload\n"
                       '1,Asha,9876543210,1,New,10,2025-12-01 10:00:00+05:30,"{""a"": 1}"\n'
                       '2,"Asha, K",919876543210,2,Pending,,2025-12-02T10:00:00+00:00,\n'
                       "3,Bad date,,1,Lost,,not-a-date,\n"
                       "3,Duplicate id,,1,Lost,,,\n"
                       "4,No such source,,99,New,,,\n"
                       "5,Bad json,,1,New,,,{oops\n"),
    }


def test_export_lands_and_bad_rows_are_quarantined(run_cli, database_url, export):
    result = run_cli("load", "legacy", "--leads", str(export["leads"]), "--customers",
                     str(export["customers"]), "--sources", str(export["sources"]))
    assert result.exit_code == 0, result.output
    assert "crm.leads_master from" in result.stdout and "landed 2, quarantined 4" in result.stdout
    assert "crm.customers from" in result.stdout
    leads = query(database_url, "select id, full_name, phone_number_normalized, customer_id,"
                                " raw_payload from crm.leads_master order by id")
    assert leads == [(1, "Asha", "9876543210", 10, {"a": 1}), (2, "Asha, K", "919876543210", None, None)]
    assert query(database_url, "select count(*) from crm.customers") == [(2,)]
    reasons = [row[0] for row in query(database_url,
                                       "select reason from raw.quarantine order by quarantine_id")]
    assert any("phone_number_normalized is empty" in reason for reason in reasons)
    assert any("duplicate phone_number_normalized" in reason for reason in reasons)
    assert any("created_at is not a valid timestamptz" in reason for reason in reasons)
    assert any("duplicate id" in reason for reason in reasons)
    assert any("source_id points at no row of sources" in reason for reason in reasons)
    assert any("raw_payload is not a valid jsonb" in reason for reason in reasons)
    # New customers the CRM inserts later continue after the loaded ids.
    assert query(database_url, "insert into crm.customers (phone_number_normalized)"
                               " values ('x') returning id") == [(12,)]


def test_reloading_replaces_the_previous_export(run_cli, database_url, export, tmp_path):
    run_cli("load", "legacy", "--leads", str(export["leads"]), "--sources", str(export["sources"]))
    smaller = write(tmp_path, "small.csv", "id,full_name\n7,Only one\n")
    result = run_cli("load", "legacy", "--leads", str(smaller))
    assert result.exit_code == 0, result.output
    assert query(database_url, "select id from crm.leads_master") == [(7,)]


def test_a_live_crm_table_is_never_replaced(run_cli, database_url, export):
    conn = psycopg2.connect(database_url)
    with conn, conn.cursor() as cursor:
        cursor.execute("create schema crm; create table crm.leads_master (id bigint primary key);"
                       " insert into crm.leads_master values (42)")
    conn.close()
    result = run_cli("load", "legacy", "--leads", str(export["leads"]))
    assert result.exit_code != 0
    assert "refusing to replace a live CRM table" in result.output
    assert query(database_url, "select id from crm.leads_master") == [(42,)]


def test_missing_required_column_is_a_clear_error(run_cli, database_url, tmp_path):
    bad = write(tmp_path, "bad.csv", "full_name\nNo id column\n")
    result = run_cli("load", "legacy", "--leads", str(bad))
    assert result.exit_code != 0
    assert "header lacks required column(s) id" in result.output


def test_ragged_rows_are_quarantined_never_padded_or_cut(run_cli, database_url, tmp_path):
    # PostgreSQL's CSV reader refuses these files as a whole; the row-by-row reader lands the
    # clean rows and quarantines each ragged one with its reason (a cell too many or too few
    # means the columns may have shifted: landing it would put values under the wrong names)
    ragged = write(tmp_path, "ragged.csv", "id,full_name,created_at\n"
                   "1,Asha,2025-12-01T10:00:00+00:00\n"
                   "\n"
                   "2,Ravi,2025-12-02T10:00:00+00:00,an extra cell\n"
                   "3,Short row\n"
                   "x,Bad id,\n")
    result = run_cli("load", "legacy", "--leads", str(ragged))
    assert result.exit_code == 0, result.output
    assert "landed 1, quarantined 3" in result.stdout
    assert query(database_url, "select id, full_name from crm.leads_master") == [(1, "Asha")]
    assert query(database_url, "select reason from raw.quarantine order by reason") == [
        ("ragged.csv line 4: the row has 4 fields, the header 3",),
        ("ragged.csv line 5: the row has 2 fields, the header 3",),
        ("ragged.csv line 6: id is not a valid bigint: x",)]
    originals = [row[0] for row in query(database_url, "select original_text from raw.quarantine"
                                                       " order by reason")]
    assert "an extra cell" in originals[0] and "Short row" in originals[1]


def test_a_nul_byte_or_a_non_utf8_row_is_quarantined_not_a_traceback(run_cli, database_url,
                                                                        tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(b"id,full_name\n1,Asha\n2,Ra\x00vi\n3,\xff\xfeLatin\n4,Meera\n")
    result = run_cli("load", "legacy", "--leads", str(path))
    assert result.exit_code == 0, result.output
    assert query(database_url, "select id from crm.leads_master order by id") == [(1,), (4,)]
    reasons = [row[0] for row in query(database_url, "select reason from raw.quarantine"
                                                     " order by reason")]
    assert reasons == ["nul.csv line 3: the row holds a NUL byte, which PostgreSQL cannot store",
                       "nul.csv line 4: the row holds bytes that are not UTF-8"]


def test_rows_pointing_at_sources_never_loaded_are_one_clear_error(run_cli, database_url,
                                                                   export):
    result = run_cli("load", "legacy", "--leads", str(export["leads"]))
    assert result.exit_code != 0
    assert "point at sources" in result.output and "--sources" in result.output
    assert query(database_url, "select count(*) from raw.quarantine") == [(0,)]
    assert query(database_url, "select status, detail ->> 'error' is not null"
                               " from raw.load_batches") == [("failed", True)]


def test_a_header_only_export_never_empties_leads_master(run_cli, database_url, export,
                                                         tmp_path):
    run_cli("load", "legacy", "--leads", str(export["leads"]), "--sources", str(export["sources"]))
    header_only = write(tmp_path, "empty.csv", "id,full_name,phone_number_normalized\n")
    result = run_cli("load", "legacy", "--leads", str(header_only))
    assert result.exit_code != 0
    assert "refusing to empty crm.leads_master (2 rows)" in result.output
    assert query(database_url, "select count(*) from crm.leads_master") == [(2,)]


def test_clean_and_forgiving_readers_land_the_same(run_cli, database_url, export, tmp_path):
    run_cli("load", "legacy", "--leads", str(export["leads"]), "--sources", str(export["sources"]))
    fast = query(database_url, "select lm::text from crm.leads_master as lm order by id")
    quarantined = ("select replace(reason, %s, ''), original_text from raw.quarantine"
                   " where landed_from = %s order by reason")
    fast_quarantine = query(database_url, quarantined, ("leads.csv", "file:leads.csv"))
    assert len(fast_quarantine) == 4
    # a trailing blank line sends the same rows through the row-by-row reader
    forgiving = write(tmp_path, "blank.csv", export["leads"].read_text() + "\n\n")
    run_cli("load", "legacy", "--leads", str(forgiving), "--sources", str(export["sources"]))
    assert query(database_url, "select lm::text from crm.leads_master as lm order by id") == fast
    assert query(database_url, quarantined, ("blank.csv", "file:blank.csv")) == fast_quarantine

"""The CRM application's functions (`leadlink crm install`): find-or-create under concurrency, the
lowest id of a person stored in legacy writings, unusable phones, the live lookup, privileges,
the preflight, and an install that is idempotent on a CRM leadlink never built.

The plan is rendered by dbt once per module; a CRM with the sample export loaded (no dbt build,
no publish) gets the functions once and is cloned per test.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import phonenumbers
import psycopg2
import psycopg2.errors
import pytest
from crmhelpers import crm_template, execute_sql, load_samples, plan  # noqa: F401 - fixtures
from dbhelpers import PROJECT_DIR, admin_execute, cli_env, invoke, query, with_database
from livehelpers import database_copy, drop_database
from psycopg2 import sql

from leadlink.crm.functions.install import install
from leadlink.crm.functions.plan import InstallPlan
from leadlink.crm.functions.preflight import PreflightError

KEY = "leadlink.crm_phone_e164"


@pytest.fixture
def crm(pg_admin_url: str, crm_template: str) -> Iterator[str]:  # noqa: F811
    with database_copy(pg_admin_url, crm_template) as url:
        yield url


def _call(url: str, statement: str, params: tuple = ()) -> object:
    return execute_sql(url, statement, params)[0][0]


def _oracle(raw: str | None) -> str | None:
    """The E.164 libphonenumber gives a stored value (region IN), None when not valid."""
    if not raw or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw, "IN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- install ----------------------------------------------------------------------------------
def test_install_on_a_crm_never_built_is_idempotent_and_rebuilds_stale_indexes(
        pg_admin_url: str, plan: InstallPlan, tmp_path: Path) -> None:
    name = f"crmnew_{uuid.uuid4().hex[:10]}"
    admin_execute(pg_admin_url, sql.SQL("create database {}").format(sql.Identifier(name)))
    url = with_database(pg_admin_url, name)
    try:
        env = {**cli_env(url, tmp_path), "LEADLINK_CRM_SCHEMA": "crm"}
        load_samples(env)
        assert query(url, "select count(*) from pg_namespace where nspname in"
                          " ('analytics', 'analytics_seeds', 'leadlink')") == [(0,)]
        first = invoke(env, "crm", "install", "--json")
        assert first.exit_code == 0, first.output
        report = json.loads(first.stdout)
        assert set(report["indexes"].values()) <= {"created", "uses leads_master_customer_id"}
        assert report["functions"] == ["leadlink.normalize_phone",
                                       "leadlink.find_or_create_customer_by_phone",
                                       "leadlink.find_customer_with_leads_by_phone"]
        again = install(url, plan)
        assert set(again.indexes.values()) <= {"kept", "uses leads_master_customer_id"}
        # an upgrade whose metadata changed, and a build that died half way
        execute_sql(url, "update leadlink.crm_install set value = 'older'"
                      " where key = 'index_fingerprint'")
        upgraded = install(url, plan)
        assert upgraded.indexes["leadlink_leads_master_phone_e164"] == "rebuilt"
        execute_sql(url, "update pg_index set indisvalid = false where indexrelid ="
                      " 'crm.leadlink_customers_phone_e164'::regclass")
        repaired = install(url, plan)
        assert repaired.indexes["leadlink_customers_phone_e164"] == "created"
        assert query(url, "select count(*) from pg_index where not indisvalid") == [(0,)]
        assert query(url, "select count(*) from pg_indexes where schemaname = 'crm'"
                          " and indexname like 'leadlink%%'") == [(3,)]
        assert _call(url, "select leadlink.normalize_phone('098765 43210')") == "+919876543210"
        assert _call(url, "select leadlink.find_or_create_customer_by_phone('9008035173')") == 1
    finally:
        drop_database(pg_admin_url, name)


def test_functions_are_definers_with_a_fixed_search_path_and_plans_use_the_indexes(crm: str):
    rows = query(crm, "select proname, prosecdef, proconfig from pg_proc where pronamespace ="
                      " 'leadlink'::regnamespace")
    assert {row[0] for row in rows} >= {"normalize_phone", "find_or_create_customer_by_phone",
                                         "find_customer_with_leads_by_phone", "crm_phone_e164"}
    for name, definer, config in rows:
        assert definer and "search_path=pg_catalog, pg_temp" in config, name
    plan = "\n".join(row[0] for row in query(
        crm, f"explain select id from crm.leads_master where {KEY}(phone_number_normalized) = 'x'"))
    assert "leadlink_leads_master_phone_e164" in plan


WRITINGS_OF_ALL_KINDS = [
    "9845012345", "+91 98450 12345", "(+91) 98450-12345", "+91 (0) 98450 12345", "0091 98450 12345",
    "919845012345", "098450 12345 ext. 12", "Mob: 98450 12345", "98450 12345 / 98450 54321",
    "\u096f\u096e\u096a\u096b\u0966\u0967\u0968\u0969\u096a\u096b",
    "\uff19\uff18\uff14\uff15\uff10\uff11\uff12\uff13\uff14\uff15",
    "080 2345 6789", "+44 7400 123456", "07400 123456", "+1 650 253 0000", "+971 50 123 4567",
    "9999999999", "1234567890", "97410", "", "   ", "anonymous", "+91", "+999 123 456",
    "98450123456789", "\u00a098450\u00a012345",
]


def test_the_crm_normaliser_agrees_with_libphonenumber(crm: str):
    for raw in WRITINGS_OF_ALL_KINDS:
        answers = execute_sql(crm, "select leadlink.normalize_phone(%s), leadlink.crm_phone_e164(%s),"
                                   " parsed.phone_e164, parsed.unusable_reason"
                                   " from leadlink.crm_parse_phone(%s) as parsed", (raw, raw, raw))[0]
        assert answers[0] == answers[1] == answers[2] == _oracle(raw), (raw, answers)
        assert (answers[3] is None) == (_oracle(raw) is not None and raw not in (
            "9999999999", "1234567890")), (raw, answers)


# --- find_or_create ---------------------------------------------------------------------------
def _people(url: str, e164: str) -> list[int]:
    return [row[0] for row in query(url, f"select id from crm.customers where"
                                         f" {KEY}(phone_number_normalized) = %s order by id", (e164,))]


def _concurrent_writers(url: str, writings: list[str], writers: int = 8, rounds: int = 3) -> list:
    answers: list = []
    errors: list = []
    barrier = threading.Barrier(writers)

    def writer(number: int) -> None:
        conn = psycopg2.connect(url)
        try:
            for round_number in range(rounds):
                barrier.wait()
                with conn, conn.cursor() as cursor:
                    cursor.execute("select leadlink.find_or_create_customer_by_phone(%s, %s)",
                                   (writings[(number + round_number) % len(writings)],
                                    f"Writer {number}"))
                    answers.append(cursor.fetchone()[0])
                    # hold the transaction open: the others wait on the person's lock
                    cursor.execute("select pg_sleep(0.02)")
        except Exception as error:  # noqa: BLE001 - every error is the test's failure
            errors.append(error)
        finally:
            conn.close()

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return answers


WRITINGS = ["9845012345", "+919845012345", "09845012345", "919845012345", "+91 98450-12345",
            "0091 98450 12345", "(+91) 98450 12345", "98450 12345"]


def test_eight_concurrent_writers_in_several_writings_make_one_customer(crm: str):
    assert _people(crm, "+919845012345") == []
    answers = _concurrent_writers(crm, WRITINGS)
    people = _people(crm, "+919845012345")
    assert len(people) == 1 and set(answers) == set(people)
    assert query(crm, "select phone_number_normalized, full_name from crm.customers where id = %s",
                 (people[0],))[0][0] == "+919845012345"


def test_concurrent_writers_behind_a_transaction_pooler(crm: str, pgbouncer):
    answers = _concurrent_writers(pgbouncer.url_for(crm), WRITINGS[::-1], rounds=2)
    assert set(answers) == set(_people(crm, "+919845012345")) and len(set(answers)) == 1


def test_a_person_stored_in_legacy_writings_gets_the_lowest_id_and_empty_fields_filled(crm: str):
    # customers 1 ("9008035173") and 42 ("919008035173") are one person
    assert _people(crm, "+919008035173") == [1, 42]
    before = query(crm, "select count(*) from crm.customers")
    for writing in ("+91 90080 35173", "09008035173", "919008035173"):
        assert _call(crm, "select leadlink.find_or_create_customer_by_phone(%s, %s, %s, %s)",
                     (writing, "Someone Else", "other@example.com", "Elsewhere")) == 1
    assert query(crm, "select count(*) from crm.customers") == before
    assert query(crm, "select full_name, email, city from crm.customers where id = 1") == [
        ("ANANYA SHARMA", "ananya.sharma1@gmail.com", "Pune")]
    execute_sql(crm, "update crm.customers set email = '', city = null where id = 1")
    _call(crm, "select leadlink.find_or_create_customer_by_phone(phone => %s, email => %s,"
               " city => %s)", ("9008035173", " asha@example.com ", "Mysuru"))
    _call(crm, "select leadlink.find_or_create_customer_by_phone(phone => %s, city => %s)",
          ("9008035173", "Never"))
    assert query(crm, "select full_name, email, city from crm.customers where id = 1") == [
        ("ANANYA SHARMA", "asha@example.com", "Mysuru")]


def test_unusable_phones_give_null_and_create_nothing(crm: str):
    before = query(crm, "select count(*), max(id) from crm.customers")
    for phone in ("", "   ", None, "9999999999", "1234567890", "+919876543210", "97410", "anonymous",
                  "+91", "00000", "12345678901234567890", "+91 12345 67890"):
        assert _call(crm, "select leadlink.find_or_create_customer_by_phone(%s, 'Junk')",
                     (phone,)) is None, phone
    assert query(crm, "select count(*), max(id) from crm.customers") == before


# --- the live lookup --------------------------------------------------------------------------
def test_lookup_finds_every_row_of_the_person_in_any_writing_and_fresh_rows(crm: str):
    e164, national = "+919008035173", "9008035173"
    conn = psycopg2.connect(crm)
    with conn, conn.cursor() as cursor:
        # the app's rows from a moment ago: another writing, an alternate phone only, and a
        # lead whose stored phone is someone else's but whose alternate is this person's
        cursor.execute("insert into crm.leads_master (full_name, phone_number_normalized,"
                       " alternate_phone_number, source_id, status, branch_id) values"
                       " ('Walk-in', '0 90080-35173', null, 3, 'New', 2),"
                       " ('Alt only', '', '+91 9008035173', 3, 'New', 2),"
                       " ('Other person', '7411123456', '9008035173', 3, 'New', 2)"
                       " returning id")
        fresh = [row[0] for row in cursor.fetchall()]
    conn.close()
    rows = query(crm, "select id, phone_number_normalized, alternate_phone_number, customer_id"
                      " from crm.leads_master")
    customers = {row[0] for row in query(crm, "select id, phone_number_normalized from crm.customers")
                 if _oracle(row[1]) == e164}
    expected = {lead_id for lead_id, stored, alternate, customer_id in rows
                if _oracle(stored) == e164 or customer_id in customers
                or (_oracle(stored) is None and _oracle(alternate) == e164)}
    assert set(fresh[:2]) <= expected and fresh[2] not in expected
    answers = [json.loads(_call(crm, "select leadlink.find_customer_with_leads_by_phone(%s)::text",
                                (writing,)))
               for writing in (national, "0" + national, "91" + national, e164,
                               "+91 90080-35173", "0091 9008035173", "(+91) 90080 35173")]
    assert all(answer == answers[0] for answer in answers)
    answer = answers[0]
    assert answer["phone_e164"] == e164 and answer["customer"]["id"] == min(customers)
    assert answer["customer"]["duplicate_customer_ids"] == sorted(customers)[1:]
    assert {lead["id"] for lead in answer["leads"]} == expected
    assert {lead["matched_by"] for lead in answer["leads"] if lead["id"] in fresh} == {
        "phone", "alternate_phone"}
    assert {"id", "source_id", "status", "branch_id", "customer_id", "created_at"} <= set(
        answer["leads"][0])


def test_lookup_of_unusable_or_unknown_numbers(crm: str):
    for writing, e164, reason in (("9999999999", "+919999999999", "test_number"),
                                  ("anonymous", None, "not_a_number"), ("", None, "empty"),
                                  ("+91 98111 00000", "+919811100000", None)):
        answer = json.loads(_call(crm, "select leadlink.find_customer_with_leads_by_phone(%s)::text",
                                  (writing,)))
        assert answer == {"phone_e164": e164, "unusable_reason": reason, "customer": None,
                          "leads": []}


# --- privileges -------------------------------------------------------------------------------
@pytest.fixture
def app_role(crm: str, pg_admin_url: str) -> Iterator[str]:
    role = f"app_{uuid.uuid4().hex[:8]}"
    admin_execute(pg_admin_url, sql.SQL("create role {} nologin").format(sql.Identifier(role)))
    yield role
    execute_sql(crm, f'drop owned by "{role}"')
    admin_execute(pg_admin_url, sql.SQL("drop role if exists {}").format(sql.Identifier(role)))


def _as_role(url: str, role: str, statement: str, commit: bool = False) -> list[tuple]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
            cursor.execute(statement)
            rows = cursor.fetchall()
        if commit:
            conn.commit()
        return rows
    finally:
        conn.rollback()
        conn.close()


def test_a_role_with_only_execute_reads_and_writes_nothing_else(crm: str, plan: InstallPlan,
                                                                 app_role: str):
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        _as_role(crm, app_role, "select leadlink.find_customer_with_leads_by_phone('9008035173')")
    install(crm, plan, grant_to=[app_role])
    assert _as_role(crm, app_role, "select leadlink.find_or_create_customer_by_phone("
                                   "'98450 12345', 'New Person')") != [(None,)]
    answer = _as_role(crm, app_role, "select leadlink.find_customer_with_leads_by_phone("
                                     "'9008035173')")[0][0]
    assert answer["customer"]["id"] == 1
    assert _as_role(crm, app_role, "select leadlink.normalize_phone('09845012345')") == [
        ("+919845012345",)]
    for statement in ("select count(*) from crm.customers", "select count(*) from crm.leads_master",
                      "select count(*) from leadlink.phone_regions",
                      "select * from leadlink.crm_parse_phone('9008035173')",
                      "update crm.customers set city = 'x'",
                      "delete from leadlink.phone_test_numbers"):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            _as_role(crm, app_role, statement)


def test_the_app_can_still_insert_rows_the_indexes_key_with_the_normaliser(crm: str, app_role: str):
    execute_sql(crm, f"grant usage on schema crm to {app_role}; grant insert on crm.leads_master to"
                  f" {app_role}")
    _as_role(crm, app_role, "insert into crm.leads_master (full_name, phone_number_normalized,"
                            " status) values ('App insert', '+91 98450 12345', 'New') returning 1")


def test_preflight_names_the_missing_right_and_changes_nothing(pg_admin_url: str, plan: InstallPlan,
                                                               tmp_path: Path) -> None:
    name = f"crmpre_{uuid.uuid4().hex[:10]}"
    role = f"reader_{uuid.uuid4().hex[:8]}"
    admin_execute(pg_admin_url, sql.SQL("create database {}").format(sql.Identifier(name)))
    url = with_database(pg_admin_url, name)
    try:
        load_samples(cli_env(url, tmp_path))
        admin_execute(pg_admin_url, sql.SQL("create role {} login").format(sql.Identifier(role)))
        execute_sql(url, f"grant usage on schema crm to {role}; grant select on all tables in schema"
                      f" crm to {role}")
        as_reader = url.replace("postgres@", f"{role}@", 1)
        with pytest.raises(PreflightError) as raised:
            install(as_reader, plan)
        message = str(raised.value)
        assert f"{role} does not own crm.customers (owner: postgres)" in message
        assert "does not own crm.leads_master" in message and "cannot create schema leadlink" in message
        assert "lacks INSERT on crm.customers" in message
        assert query(url, "select count(*) from pg_namespace where nspname = 'leadlink'") == [(0,)]
    finally:
        drop_database(pg_admin_url, name)
        admin_execute(pg_admin_url, sql.SQL("drop role if exists {}").format(sql.Identifier(role)))


# --- the README's SQL, as written ---------------------------------------------------------------
def _readme_sql_blocks() -> list[str]:
    text = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    section = text.split("## Using leadlink from the CRM app\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, re.S)


def test_the_readme_grants_and_calls_run_as_written(crm: str, pg_admin_url: str):
    for role in ("service_role", "authenticated", "anon"):  # Supabase's API roles
        admin_execute(pg_admin_url, sql.SQL(
            "do $$ begin create role {} nologin; exception when duplicate_object then null; end $$"
        ).format(sql.Identifier(role)))
    grants, calls = _readme_sql_blocks()
    execute_sql(crm, grants)
    statements = [statement.strip() for statement in calls.split(";") if statement.strip()]
    assert len(statements) == 3
    create, search, normalize = (_as_role(crm, "service_role", statement, commit=True)[0][0]
                                 for statement in statements)
    assert isinstance(create, int) and normalize == "+919845012345"
    assert _as_role(crm, "service_role", statements[0]) == [(create,)]  # found again, not a new row
    assert search["phone_e164"] == "+919845012345" and search["customer"]["id"] == create
    assert search["customer"]["full_name"] == "Asha Rao" and search["customer"]["city"] == "Mysuru"
    # the search for signed-in staff, find-or-create only server-side, nothing for anon
    assert _as_role(crm, "authenticated", statements[1])[0][0] == search
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        _as_role(crm, "authenticated", statements[0])
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        _as_role(crm, "anon", statements[1])

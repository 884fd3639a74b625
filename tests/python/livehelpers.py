"""Helpers for the tests of the live system (`leadlink run` overlapping, `--every`, behind PgBouncer):
a samples CRM built once per module and cloned per test, leadlink as a real process, and the check
that every delivered call is in the CRM exactly once."""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dbhelpers import PROJECT_DIR, admin_execute, cli_env, invoke, query, with_database
from psycopg2 import sql

LEADLINK = str(Path(sys.executable).parent / "leadlink")
SAMPLES = PROJECT_DIR / "samples"
LEASE = "2"  # seconds: a killed holder's lock frees quickly in tests
FAST = {"LEADLINK_HTTP_BACKOFF_BASE": "0.001", "LEADLINK_HTTP_MAX_SERVER_WAIT": "0.01",
        "LEADLINK_HTTP_TIMEOUT": "2", "LEADLINK_HTTP_MAX_ATTEMPTS": "3",
        "LEADLINK_LOCK_LEASE_SECONDS": LEASE, "LEADLINK_DBT_THREADS": "2"}


_TEMPLATES: dict[str, str] = {}


def build_samples_template(pg_admin_url: str, home: Path, prefix: str = "livetpl") -> str:
    """A database with the sample CRM export loaded and the marts built; returns its name. Built
    once per test session (and server), shared by the modules that copy it."""
    if pg_admin_url in _TEMPLATES:
        return _TEMPLATES[pg_admin_url]
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin_execute(pg_admin_url, sql.SQL("create database {}").format(sql.Identifier(name)))
    env = cli_env(with_database(pg_admin_url, name), home)
    legacy = SAMPLES / "legacy"
    result = invoke(env, "load", "legacy", "--leads", str(legacy / "leads_master.csv"),
                    "--customers", str(legacy / "customers.csv"), "--sources", str(legacy / "sources.csv"),
                    "--history", str(legacy / "lead_sources_history.csv"))
    assert result.exit_code == 0, result.output
    result = invoke(env, "dbt", "build")
    assert result.exit_code == 0, result.output
    _TEMPLATES[pg_admin_url] = name
    atexit.register(_drop_quietly, pg_admin_url, name)
    return name


def _drop_quietly(pg_admin_url: str, name: str) -> None:
    try:
        drop_database(pg_admin_url, name)
    except Exception:  # noqa: BLE001 - the server may be gone already at exit
        pass


class Workspace:
    """One database name, home and dbt target dir for a module, refilled from the template for
    each test: dbt sees the same profile every time, so it parses the project once."""

    def __init__(self, pg_admin_url: str, template: str, home: Path) -> None:
        self.admin = pg_admin_url
        self.template = template
        self.home = home
        self.name = f"live_{uuid.uuid4().hex[:10]}"
        self.url = with_database(pg_admin_url, self.name)

    def fresh(self) -> str:
        drop_database(self.admin, self.name)
        admin_execute(self.admin, sql.SQL("create database {} template {}").format(
            sql.Identifier(self.name), sql.Identifier(self.template)))
        return self.url

    def close(self) -> None:
        drop_database(self.admin, self.name)


@contextmanager
def database_copy(pg_admin_url: str, template: str) -> Iterator[str]:
    name = f"copy_{uuid.uuid4().hex[:10]}"
    admin_execute(pg_admin_url, sql.SQL("create database {} template {}").format(
        sql.Identifier(name), sql.Identifier(template)))
    try:
        yield with_database(pg_admin_url, name)
    finally:
        drop_database(pg_admin_url, name)


def drop_database(pg_admin_url: str, name: str) -> None:
    admin_execute(pg_admin_url, sql.SQL("drop database if exists {} with (force)").format(
        sql.Identifier(name)))


def process_env(url: str, home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, **cli_env(url, home), **FAST, **extra}


def spawn(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([LEADLINK, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=PROJECT_DIR)


def wait_until(check: Callable[[], object], timeout: float = 60.0, interval: float = 0.1,
               alive: subprocess.Popen | None = None) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if alive is not None and alive.poll() is not None:
            out, err = alive.communicate()
            raise AssertionError(f"process ended early ({alive.returncode}): {out}\n{err[-3000:]}")
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def lock_rows(url: str) -> list[tuple]:
    return query(url, "select lock_name, lease_until > clock_timestamp() from raw.locks order by 1")


def stop(process: subprocess.Popen, timeout: float = 120.0) -> tuple[str, str]:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


def crm_placement(url: str, call_ids: Iterable[str]) -> dict[str, tuple[int, int, int]]:
    """For each call id: (rows in leads_master, rows in lead_sources_history, of those lead rows
    the ones linked to a customer that exists)."""
    ids = list(call_ids)
    rows = query(url, """
        with wanted as (select unnest(%s::text[]) as external_id)
        select
            wanted.external_id,
            (select count(*) from crm.leads_master as lead where lead.external_lead_id = wanted.external_id),
            (select count(*) from crm.lead_sources_history as history
             where history.external_id = wanted.external_id),
            (select count(*) from crm.leads_master as lead
             inner join crm.customers as customer on lead.customer_id = customer.id
             where lead.external_lead_id = wanted.external_id
                or lead.id in (select history.lead_id from crm.lead_sources_history as history
                               where history.external_id = wanted.external_id))
        from wanted
    """, (ids,))
    return {row[0]: (int(row[1]), int(row[2]), int(row[3])) for row in rows}


def assert_each_exactly_once(url: str, call_ids: Iterable[str]) -> None:
    """Every delivered call is in the CRM (as a lead or a history row of a lead), linked to a
    customer, and nowhere twice."""
    placement = crm_placement(url, call_ids)
    missing = [key for key, (leads, history, _) in placement.items() if leads + history == 0]
    doubled = [key for key, (leads, history, _) in placement.items() if leads > 1 or history > 1]
    unlinked = [key for key, (leads, history, linked) in placement.items()
                if leads + history and linked == 0]
    assert not missing and not doubled and not unlinked, (
        f"missing {missing[:5]} ({len(missing)}), doubled {doubled[:5]} ({len(doubled)}), "
        f"unlinked {unlinked[:5]} ({len(unlinked)})")


def fresh_calls(count: int, prefix: str, known_e164: list[str] = (), step_seconds: int = 7,
                seed: int = 11) -> list[dict]:
    """Knowlarity calls of the last minutes, every number usable: `known_e164` first (people the
    CRM has: their calls join an open lead or open a new one for the known customer), then new
    people."""
    import random
    from datetime import UTC, datetime, timedelta, timezone

    rng = random.Random(seed)
    ist = timezone(timedelta(hours=5, minutes=30))
    newest = datetime.now(UTC) - timedelta(seconds=30)
    calls = []
    for index in range(count):
        number = known_e164[index] if index < len(known_e164) else f"+9197{rng.randint(10**7, 10**8 - 1)}"
        moment = (newest - timedelta(seconds=step_seconds * index)).astimezone(ist)
        calls.append({"uuid": f"{prefix}-{index:05d}-4c1e-9d2b-7f3a1c0e5b21", "customer_number": number,
                      "knowlarity_number": "+918069001999", "agent_number": "+919845000111",
                      "destination": "Sales Queue", "business_call_type": "Call Group",
                      "start_time": moment.strftime("%Y-%m-%d %H:%M:%S+05:30"),
                      "call_duration": 30 + index % 50, "call_recording": "", "Call_Type": 0})
    return calls

"""Benchmark of the live system: what one `leadlink run --publish` cycle costs against the CRM's
size, and how long a call takes from its webhook's 200 to its row in the CRM.

    .venv/bin/python benchmarks/live_benchmark.py cycles [--sizes 10000,100000,1000000]
    .venv/bin/python benchmarks/live_benchmark.py freshness [--rows 1000000] [--rate 40]

Each size gets its own database on a private embedded server (`--home`, default
/tmp/leadlink-live-bench), prepared once and reused by later invocations: the synthetic CRM of
`scripts/generate_legacy_crm.py`, `leadlink load legacy`, a full `dbt build`, the backfill
`publish --apply --archive-unlinkable` (the CRM as the team's migration leaves it: FK and NOT
NULL on), and one settling `run --publish`.

`cycles`, per size: a settling cycle, two `leadlink run --publish` cycles with nothing new, then
twice: land 1,000 new Knowlarity calls (`leadlink load file`; half from known CRM customers in
another writing of their number, half from new people), one cycle, and the cycle after it (which
builds again because publish wrote to the CRM, and writes nothing). Prints the wall time of each
cycle and its `dbt build`, publish and fingerprint phases (from the run's `--json` summary), then
the ratio of the 1M cycle to the 10k cycle.

`freshness`: `leadlink serve` and `leadlink run --publish --every N` on one size while calls
arrive by webhook at `--rate` a second (half from known customers who have no Knowlarity lead,
so each call is a new lead or a `lead_sources_history` row of an existing one). A poller reads
the CRM once a second; for each call it prints seconds from the 200 to its row with the right
`customer_id` (p50 / p95 / max), and checks none is missing, doubled or linked to another person.

No timing is asserted anywhere: the figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEADLINK = str(Path(sys.executable).parent / "leadlink")
TOKEN = "live-bench-token"
IST = timezone(timedelta(hours=5, minutes=30))

sys.path.insert(0, str(ROOT))
import httpx  # noqa: E402
import psycopg2  # noqa: E402
from webhook_load_test import wait_healthy  # noqa: E402  (this folder is on sys.path)

from leadlink.runtime.ports import free_port  # noqa: E402


# --- the prepared CRM per size -------------------------------------------------------------------
def environment(home: Path, rows: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEADLINK_")}
    env.update({
        "LEADLINK_HOME": str(home), "LEADLINK_PG_PORT": os.environ.get("LEADLINK_PG_PORT", "54777"),
        "LEADLINK_DATABASE_NAME": f"leadlink_bench_live_{rows}", "LEADLINK_CRM_SCHEMA": "crm",
        "DBT_TARGET_PATH": f"{home}/target-{rows}", "DBT_LOG_PATH": f"{home}/logs-{rows}",
        # a webhook is configured: `run` with no pull source is then a valid deployment
        "KNOWLARITY_WEBHOOK_TOKEN": TOKEN,
    })
    for name in ("KNOWLARITY_API_KEY", "KNOWLARITY_AUTHORIZATION", "META_PAGE_ACCESS_TOKEN"):
        env.pop(name, None)  # never pull from a real API in a benchmark
    return env


def leadlink(env: dict[str, str], *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([LEADLINK, *args], env=env, cwd=ROOT, text=True, capture_output=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"leadlink {' '.join(args)} failed ({done.returncode})")
    return elapsed, done.stdout


def prepare(home: Path, rows: int) -> tuple[dict[str, str], str]:
    env = environment(home, rows)
    leadlink(env, "db", "up")
    _, url = leadlink(env, "db", "url")
    url = url.strip()
    marker = home / f"prepared-{rows}"
    if marker.exists():
        return env, url
    data = home / f"crm-{rows}"
    steps: dict[str, float] = {}
    if not (data / "leads_master.csv").exists():
        started = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "scripts" / "generate_legacy_crm.py"), "--rows",
                        str(rows), "--out", str(data), "--quiet"], check=True)
        steps["generate"] = time.perf_counter() - started
    steps["load legacy"], _ = leadlink(env, "load", "legacy", "--leads", str(data / "leads_master.csv"),
                                       "--customers", str(data / "customers.csv"),
                                       "--sources", str(data / "sources.csv"))
    steps["dbt build --full-refresh"], _ = leadlink(env, "dbt", "build", "--full-refresh")
    steps["publish --apply --archive-unlinkable"], _ = leadlink(env, "publish", "--apply",
                                                                "--archive-unlinkable")
    steps["settling run --publish"], _ = leadlink(env, "run", "--publish")
    print(f"prepared {rows:,} leads: " + ", ".join(f"{name} {seconds:.0f} s"
                                                   for name, seconds in steps.items()), flush=True)
    marker.write_text(json.dumps(steps))
    return env, url


# --- calls ---------------------------------------------------------------------------------------
def other_writing(e164: str, rng: random.Random) -> str:
    national = e164[3:]
    return rng.choice([national, f"0{national}", f"91{national}", f"0{national[:5]} {national[5:]}",
                       f"+91 {national[:5]}-{national[5:]}"])


def _query(url: str, statement: str) -> list[tuple]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchall()
    finally:
        conn.close()


def known_customers(url: str, count: int, without_knowlarity_lead: bool) -> list[tuple[str, int]]:
    """(E.164, CRM customer id) of random published customers."""
    condition = ""
    if without_knowlarity_lead:  # their call is a new lead or a history row, never a duplicate
        condition = """and not exists (
            select from crm.leads_master as crm_leads
            inner join crm.sources as crm_sources on crm_leads.source_id = crm_sources.id
            where crm_leads.customer_id = customers.customer_id
              and lower(crm_sources.display_name) like 'knowlarity%%')"""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"""select customers.phone_e164, customers.customer_id
                from analytics.customers as customers
                where customers.is_in_crm and customers.phone_e164 like '+91%%' {condition}
                order by random() limit %s""", (count,))
            return [(row[0], int(row[1])) for row in cursor.fetchall()]
    finally:
        conn.close()


@dataclass
class Call:
    call_uuid: str
    written: str
    e164: str
    expected_customer: int | None  # None: a new person
    acknowledged_at: float = 0.0
    status: int | None = None
    seen_at: float | None = None
    seen: list[tuple[str, int]] = field(default_factory=list)

    def body(self) -> dict:
        return {"uuid": self.call_uuid, "customer_number": self.written,
                "agent_number": "+919008000222", "knowlarity_number": "+918069001002",
                "start_time": datetime.now(IST).strftime("%Y-%m-%d %H:%M:%S+05:30"),
                "call_duration": 60, "business_call_type": "Phone", "Call_Type": 0}


def make_calls(url: str, count: int, seed: int, without_knowlarity_lead: bool) -> list[Call]:
    rng = random.Random(seed)
    calls = [Call(str(uuid.UUID(int=rng.getrandbits(128))), other_writing(e164, rng), e164, customer)
             for e164, customer in known_customers(url, count // 2, without_knowlarity_lead)]
    while len(calls) < count:
        e164 = f"+91{rng.choice('6789')}{rng.randrange(10**8, 10**9)}"
        calls.append(Call(str(uuid.UUID(int=rng.getrandbits(128))), other_writing(e164, rng), e164, None))
    rng.shuffle(calls)
    return calls


# --- cycles --------------------------------------------------------------------------------------
def one_cycle(env: dict[str, str]) -> dict:
    elapsed, text = leadlink(env, "run", "--publish", "--json")
    summary = json.loads(text.strip().splitlines()[-1])
    if summary["exit_code"] != 0:
        raise SystemExit(f"run --publish failed: {summary}")
    phases = summary.get("phase_seconds", {})
    return {"wall": elapsed, "build": phases.get("dbt_build", 0.0), "publish": phases.get("publish", 0.0),
            "fingerprint": phases.get("fingerprint", 0.0), "scope": summary.get("build_scope"),
            "rows": {name: count for name, count in (summary["publish"].get("rows") or {}).items()
                     if count}}


def land_calls(env: dict[str, str], url: str, page: Path, count: int, seed: int) -> float:
    """A call-log page of `count` new calls, landed with `leadlink load file`; its wall time."""
    objects = [call.body() for call in make_calls(url, count, seed, without_knowlarity_lead=False)]
    page.write_text(json.dumps({"meta": {"total_count": len(objects)}, "objects": objects}))
    landed, _ = leadlink(env, "load", "file", "--source", "knowlarity", str(page))
    return landed


def show(name: str, run: dict) -> None:
    load = f", load file {run['load']:.1f} s" if "load" in run else ""
    scope = f" [{run['scope']}]" if run["scope"] else ""
    print(f"  {name:<13} cycle {run['wall']:6.1f} s  (dbt build {run['build']:5.1f} s{scope},"
          f" publish {run['publish']:5.1f} s, fingerprint {run['fingerprint']:4.1f} s{load})"
          f"  wrote {run['rows'] or 'nothing'}", flush=True)


def cycles(args: argparse.Namespace) -> None:
    """Per size: (warm-up) a settling cycle, `repeat` cycles with nothing new, then `repeat` times
    land calls, one cycle, and the cycle after it (publish's own writes are CRM changes: that
    cycle builds once more and writes nothing)."""
    sizes = [int(size) for size in args.sizes.split(",")]
    results: dict[int, dict[str, list[dict]]] = {}
    for rows in sizes:
        env, url = prepare(args.home, rows)
        # each run's cycles add their calls to the CRM: say what this run starts from
        now = _query(url, "select (select count(*) from crm.leads_master),"
                          " (select count(*) from crm.customers)")[0]
        print(f"\n{rows:,} leads_master rows (now {now[0]:,} leads_master rows,"
              f" {now[1]:,} customers)", flush=True)
        if args.warmup:  # moves the CRM's watermarks past the backfill's burst (see docs)
            land_calls(env, url, args.home / f"calls-{rows}-warmup.json", args.calls, seed=1)
            show("warm-up", one_cycle(env))
        show("settling", one_cycle(env))
        found: dict[str, list[dict]] = {"nothing new": [], "new calls": [], "after publish": []}
        for _ in range(args.repeat):
            found["nothing new"].append(one_cycle(env))
            show("nothing new", found["nothing new"][-1])
        for attempt in range(args.repeat):
            landed = land_calls(env, url, args.home / f"calls-{rows}-{attempt}.json", args.calls,
                                seed=int(time.time()) + attempt)
            cycle = one_cycle(env)
            cycle["load"] = landed
            found["new calls"].append(cycle)
            show("new calls", cycle)
            found["after publish"].append(one_cycle(env))
            show("after publish", found["after publish"][-1])
        results[rows] = found

    def median(rows: int, name: str, key: str) -> float:
        return statistics.median(run[key] for run in results[rows][name])

    def both(rows: int) -> float:
        return median(rows, "new calls", "wall") + median(rows, "after publish", "wall")

    print(f"\nmedians, {args.calls:,} new calls per cycle (cycle = `leadlink run --publish` wall time)")
    print(f"  {'leads':>10} {'nothing new':>12} {'new: build':>11} {'publish':>8} {'cycle':>7}"
          f" {'after publish':>14}")
    for rows in sizes:
        print(f"  {rows:>10,} {median(rows, 'nothing new', 'wall'):>10.1f} s"
              f" {median(rows, 'new calls', 'build'):>9.1f} s {median(rows, 'new calls', 'publish'):>6.1f} s"
              f" {median(rows, 'new calls', 'wall'):>5.1f} s {median(rows, 'after publish', 'wall'):>12.1f} s")
    if len(sizes) > 1:
        smallest, largest = sizes[0], sizes[-1]
        ratio = median(largest, "new calls", "wall") / median(smallest, "new calls", "wall")
        print(f"  cycle with new calls, {largest:,} vs {smallest:,}: {ratio:.2f}x"
              f" (with the cycle after it: {both(largest) / both(smallest):.2f}x)")
    startup, _ = leadlink(environment(args.home, sizes[-1]), "dbt", "--version")
    print(f"  start-up alone: `leadlink dbt --version` {startup:.1f} s")


# --- freshness -----------------------------------------------------------------------------------
def send_calls(base: str, calls: list[Call], rate: float) -> None:
    headers = {"X-Leadlink-Token": TOKEN, "Content-Type": "application/json"}
    started = time.monotonic()
    with httpx.Client(base_url=base, timeout=30) as client:
        for index, call in enumerate(calls):
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                call.status = client.post("/webhooks/knowlarity", content=json.dumps(call.body()),
                                          headers=headers).status_code
            except httpx.HTTPError:
                call.status = None
            call.acknowledged_at = time.time()


def poll_crm(url: str, calls: dict[str, Call], first_lead_id: int, stop: threading.Event) -> None:
    """Once a second: new leads_master rows and history rows of the calls not seen yet."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    last_lead_id = first_lead_id
    with conn.cursor() as cursor:
        while not stop.is_set():
            now = time.time()
            cursor.execute("select id, external_lead_id, customer_id from crm.leads_master"
                           " where id > %s", (last_lead_id,))
            for lead_id, external_id, customer_id in cursor.fetchall():
                last_lead_id = max(last_lead_id, lead_id)
                call = calls.get(external_id or "")
                if call is not None:
                    call.seen.append(("lead", customer_id))
                    call.seen_at = call.seen_at or now
            pending = [key for key, call in calls.items() if call.status == 200 and call.seen_at is None]
            if pending:
                cursor.execute("""select history.external_id, crm_leads.customer_id
                    from crm.lead_sources_history as history
                    inner join crm.leads_master as crm_leads on history.lead_id = crm_leads.id
                    where history.external_id = any(%s)""", (pending,))
                for external_id, customer_id in cursor.fetchall():
                    calls[external_id].seen.append(("history", customer_id))
                    calls[external_id].seen_at = now
            stop.wait(1.0)
    conn.close()


def customer_phones(url: str, customer_ids: set[int]) -> dict[int, str | None]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute("select id, leadlink.normalize_phone(phone_number_normalized)"
                           " from crm.customers where id = any(%s)", (list(customer_ids),))
            return dict(cursor.fetchall())
    finally:
        conn.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def freshness(args: argparse.Namespace) -> None:
    env, url = prepare(args.home, args.rows)
    conn = psycopg2.connect(url)
    with conn.cursor() as cursor:
        cursor.execute("select coalesce(max(id), 0) from crm.leads_master")
        first_lead_id = cursor.fetchone()[0]
    conn.close()
    calls = make_calls(url, args.calls, seed=int(time.time()), without_knowlarity_lead=True)
    by_uuid = {call.call_uuid: call for call in calls}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    logs = args.home / "freshness"
    logs.mkdir(exist_ok=True)
    serve = subprocess.Popen([LEADLINK, "serve", "--port", str(port)], env=env, cwd=ROOT,
                             stdout=open(logs / "serve.log", "w"), stderr=subprocess.STDOUT)
    loop_out = logs / "loop.jsonl"
    loop = subprocess.Popen([LEADLINK, "run", "--publish", "--every", str(args.every), "--json"],
                            env=env, cwd=ROOT, stdout=open(loop_out, "w"),
                            stderr=open(logs / "loop.log", "w"))
    stop = threading.Event()
    poller = threading.Thread(target=poll_crm, args=(url, by_uuid, first_lead_id, stop), daemon=True)
    try:
        wait_healthy(base)
        deadline = time.monotonic() + 600
        while not loop_out.read_text().strip() and time.monotonic() < deadline:
            time.sleep(1)  # the loop's first cycle (nothing new) has ended: calls start now
        poller.start()
        print(f"sending {len(calls):,} calls at {args.rate:g}/s to leadlink serve; loop every"
              f" {args.every:g} s on {args.rows:,} leads", flush=True)
        send_calls(base, calls, args.rate)
        sent_done = time.monotonic()
        while time.monotonic() - sent_done < args.drain_seconds:
            if all(call.seen_at is not None for call in calls if call.status == 200):
                break
            time.sleep(1)
        time.sleep(2)
    finally:
        stop.set()
        loop.send_signal(signal.SIGTERM)
        serve.send_signal(signal.SIGTERM)
        loop.wait(timeout=600)
        serve.wait(timeout=60)
    poller.join(timeout=10)

    acknowledged = [call for call in calls if call.status == 200]
    seen = [call for call in acknowledged if call.seen_at is not None]
    phones = customer_phones(url, {customer for call in seen for _, customer in call.seen if customer})
    wrong, doubled = [], []
    for call in seen:
        if len(call.seen) != 1:
            doubled.append(call)
        customer = call.seen[0][1]
        if call.expected_customer is not None and customer != call.expected_customer:
            wrong.append(call)
        elif call.expected_customer is None and phones.get(customer) != call.e164:
            wrong.append(call)
    delays = [call.seen_at - call.acknowledged_at for call in seen if call not in wrong]
    cycles_run = [json.loads(line) for line in loop_out.read_text().splitlines() if line.startswith("{")]
    print(f"\nfreshness on {args.rows:,} leads: {len(acknowledged):,} of {len(calls):,} calls"
          f" acknowledged (200), {len(seen):,} reached the CRM, missing {len(acknowledged) - len(seen)},"
          f" doubled {len(doubled)}, wrong customer {len(wrong)}")
    kinds = [call.seen[0][0] for call in seen]
    print(f"  as new leads {kinds.count('lead'):,}, as lead_sources_history rows {kinds.count('history'):,}")
    if delays:
        print(f"  seconds from the 200 to the CRM row: p50 {statistics.median(delays):.1f},"
              f" p95 {percentile(delays, 0.95):.1f}, max {max(delays):.1f} (poll every 1 s)")
    for cycle in cycles_run:
        phases = cycle.get("phase_seconds", {})
        rows = {name: count for name, count in ((cycle.get("publish") or {}).get("rows") or {}).items()
                if count}
        build = (f"dbt build {phases['dbt_build']:.1f} s" if "dbt_build" in phases
                 else f"dbt build {cycle.get('dbt_build')}")
        publish = (f"publish {phases['publish']:.1f} s" if "publish" in phases
                   else f"publish {(cycle.get('publish') or {}).get('status', 'not run')}")
        print(f"  cycle {cycle.get('cycle')}: {cycle.get('seconds')} s ({build}, {publish})"
              f" exit {cycle['exit_code']} wrote {rows or 'nothing'}")
    failed = [cycle for cycle in cycles_run if cycle["exit_code"] != 0]
    if failed or wrong or doubled or len(seen) < len(acknowledged):
        raise SystemExit(f"freshness run not clean: {len(failed)} failed cycle(s), "
                         f"{len(acknowledged) - len(seen)} missing, {len(doubled)} doubled, "
                         f"{len(wrong)} wrong customer (see {logs}/loop.log)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("/tmp/leadlink-live-bench"))
    commands = parser.add_subparsers(dest="command", required=True)
    cycle_parser = commands.add_parser("cycles", help="cycle cost against the CRM's size")
    cycle_parser.add_argument("--sizes", default="10000,100000,1000000")
    cycle_parser.add_argument("--calls", type=int, default=1000)
    cycle_parser.add_argument("--repeat", type=int, default=2)
    cycle_parser.add_argument("--warmup", action="store_true",
                              help="one untimed cycle with new calls first")
    fresh_parser = commands.add_parser("freshness", help="webhook 200 to CRM row, live loop")
    fresh_parser.add_argument("--rows", type=int, default=1_000_000)
    fresh_parser.add_argument("--rate", type=float, default=40.0)
    fresh_parser.add_argument("--calls", type=int, default=2000)
    fresh_parser.add_argument("--every", type=float, default=20.0)
    fresh_parser.add_argument("--drain-seconds", type=float, default=300.0)
    args = parser.parse_args()
    args.home.mkdir(parents=True, exist_ok=True)
    cycles(args) if args.command == "cycles" else freshness(args)


if __name__ == "__main__":
    main()

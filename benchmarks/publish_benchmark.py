"""Benchmark of `leadlink publish` on the synthetic CRM.

    .venv/bin/python benchmarks/publish_benchmark.py --rows 1000000 [--out /tmp/publish-bench]

On a private database (`leadlink_bench_publish` on the embedded server, or LEADLINK_DATABASE_URL):
1. `scripts/generate_legacy_crm.py --rows N` (skipped when the files are already in --out);
2. `leadlink load legacy` of sources, customers and leads_master;
3. `leadlink dbt build` (the marts publish reads);
4. `leadlink publish` (dry run), then `leadlink publish --apply --archive-unlinkable`, while an
   "app" thread keeps updating random leads_master and customers rows and inserting leads (with a
   customer_id) and records how long each of its statements waited;
5. checks that the FK and NOT NULL are in place and validated; a second apply (idempotence).

Prints the time per step, the longest publish transaction and DDL lock, and the app's longest and
p99 wait. No timing is asserted: the figures go to docs/benchmarks.md.

With `--cycles`, afterwards: what a publish costs when it follows what changed, not the CRM's size:
`dbt build` + `publish --apply` with nothing new, then after landing 1,000 new Knowlarity calls
(half from known customers, in another writing of their number, half from new people).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg2  # noqa: E402

from leadlink.runtime.database import resolve_database_url  # noqa: E402
from loaders.settings import Settings  # noqa: E402

DATABASE = "leadlink_bench_publish"
LEADLINK = str(Path(sys.executable).parent / "leadlink")


def run(env: dict[str, str], *args: str, capture: bool = False) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run([LEADLINK, *args], env=env, cwd=ROOT, text=True,
                            capture_output=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit(f"leadlink {' '.join(args)} failed ({result.returncode})")
    return elapsed, result.stdout


class AppProbe(threading.Thread):
    """The CRM app: small writes on the tables publish is changing, timing each one."""

    def __init__(self, url: str, max_lead: int, max_customer: int) -> None:
        super().__init__(daemon=True)
        self.url, self.max_lead, self.max_customer = url, max_lead, max_customer
        self.waits_ms: list[float] = []
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        conn = psycopg2.connect(self.url, application_name="bench-app")
        conn.autocommit = True
        rng = random.Random(8)
        with conn.cursor() as cursor:
            while not self.stop.is_set():
                choice = rng.random()
                started = time.perf_counter()
                try:
                    if choice < 0.45:
                        cursor.execute("update crm.leads_master set status = status"
                                       " where id = %s", (rng.randint(1, self.max_lead),))
                    elif choice < 0.9:
                        cursor.execute("update crm.customers set city = city where id = %s",
                                       (rng.randint(1, self.max_customer),))
                    else:
                        cursor.execute(
                            "insert into crm.leads_master (full_name, source_id, status,"
                            " customer_id, created_at) select 'App Lead', 3, 'New', min(id),"
                            " now() from crm.customers")
                except psycopg2.Error as error:  # an app write publish made fail: report it
                    self.errors.append(str(error).splitlines()[0])
                self.waits_ms.append((time.perf_counter() - started) * 1000)
                time.sleep(0.01)
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/leadlink-publish-bench"))
    parser.add_argument("--batch-size", type=int, default=20_000)
    parser.add_argument("--cycles", action="store_true",
                        help="then time a cycle with nothing new and one with 1,000 new calls")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the loaded CRM and marts of an earlier run: undo its batches"
                             " (timed) and publish again")
    args = parser.parse_args()

    env = dict(os.environ)
    env.setdefault("LEADLINK_DATABASE_NAME", DATABASE)
    env.setdefault("DBT_TARGET_PATH", f"/tmp/{DATABASE}-target")
    env.setdefault("DBT_LOG_PATH", f"/tmp/{DATABASE}-logs")
    env["LEADLINK_PUBLISH_BATCH_SIZE"] = str(args.batch_size)
    env.setdefault("LEADLINK_CRM_SCHEMA", "crm")
    settings = Settings.from_environ(env)
    url = resolve_database_url(settings)
    figures: dict[str, float] = {}

    conn = psycopg2.connect(url)
    conn.autocommit = True
    if args.reuse:
        with conn.cursor() as cursor:
            cursor.execute("select batch_id from leadlink_publish.batches where status <> 'undone'"
                           " order by batch_id desc")
            batches = [row[0] for row in cursor.fetchall()]
        started = time.perf_counter()
        for batch in batches:
            run(env, "publish", "--undo", str(batch))
        figures[f"publish --undo ({len(batches)} batches)"] = time.perf_counter() - started
    else:
        data = args.out / str(args.rows)
        if not (data / "leads_master.csv").exists():
            started = time.perf_counter()
            subprocess.run([sys.executable, str(ROOT / "scripts" / "generate_legacy_crm.py"),
                            "--rows", str(args.rows), "--out", str(data), "--quiet"], check=True)
            figures["generate"] = time.perf_counter() - started

        with conn.cursor() as cursor:  # a clean slate: drop what an earlier run published
            cursor.execute("drop schema if exists leadlink_publish cascade")
            cursor.execute("drop schema if exists crm cascade")
            cursor.execute("drop schema if exists analytics cascade")
        figures["load legacy"], _ = run(env, "load", "legacy", "--leads",
                                        str(data / "leads_master.csv"), "--customers",
                                        str(data / "customers.csv"), "--sources",
                                        str(data / "sources.csv"))
        with conn.cursor() as cursor:  # `migrate` ran before the drop: publish's schema back
            for name in ("004_publish.sql", "007_publish_pooler.sql"):
                cursor.execute((ROOT / "loaders" / "migrations" / name).read_text())
        figures["dbt build"], _ = run(env, "dbt", "build")

    figures["publish dry run"], plan_text = run(env, "publish")
    with conn.cursor() as cursor:
        cursor.execute("select max(id) from crm.leads_master")
        max_lead = cursor.fetchone()[0]
        cursor.execute("select max(id) from crm.customers")
        max_customer = cursor.fetchone()[0]
    probe = AppProbe(url, max_lead, max_customer)
    probe.start()
    time.sleep(1)
    figures["publish --apply"], applied_text = run(env, "publish", "--apply",
                                                   "--archive-unlinkable", "--json")
    time.sleep(1)
    probe.stop.set()
    probe.join()
    applied = json.loads(applied_text)
    figures["publish --apply (again)"], again_text = run(env, "publish", "--apply",
                                                         "--archive-unlinkable", "--json")
    again = json.loads(again_text)

    with conn.cursor() as cursor:
        cursor.execute("select conname, convalidated from pg_constraint where conrelid ="
                       " 'crm.leads_master'::regclass and contype = 'f'")
        fks = cursor.fetchall()
        cursor.execute("select attnotnull from pg_attribute where attrelid ="
                       " 'crm.leads_master'::regclass and attname = 'customer_id'")
        not_null = cursor.fetchone()[0]
        cursor.execute("select count(*), count(customer_id) from crm.leads_master")
        leads, linked = cursor.fetchone()
        cursor.execute("select count(*) from leadlink_publish.archived_rows"
                       " where table_name = 'leads_master'")
        archived = cursor.fetchone()[0]
    conn.close()

    waits = sorted(probe.waits_ms)
    print(f"publish benchmark: {args.rows:,} leads_master rows, marts built by dbt build,"
          f" batch size {args.batch_size:,}")
    print(plan_text.strip())
    print("\nwall time per command")
    for name, seconds in figures.items():
        print(f"  {name:<28} {seconds:9.1f} s")
    print("\npublish --apply, per step")
    for step, seconds in applied["figures"]["step_seconds"].items():
        print(f"  {step:<32} {seconds:8.2f} s  {applied['figures']['rows'].get(step, 0):>9,}"
              " row(s)")
    for name, elapsed in applied["figures"]["validate_ms"].items():
        print(f"  {name:<32} {elapsed / 1000:8.2f} s  (SHARE UPDATE EXCLUSIVE: app not blocked)")
    fig = applied["figures"]
    print(f"\ntransactions {fig['transactions']}, lock retries {fig['retries']}")
    print(f"longest publish transaction (row locks held): {fig['longest_transaction_ms']:.0f} ms"
          f" ({fig['longest_transaction']})")
    print(f"longest DDL (brief table lock): {fig['longest_ddl_ms']:.0f} ms")
    if waits:
        p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
        print(f"app probe: {len(waits):,} statements, median {statistics.median(waits):.1f} ms,"
              f" p99 {p99:.1f} ms, longest wait {waits[-1]:.0f} ms, errors {len(probe.errors)}"
              + (f" (first: {probe.errors[0]})" if probe.errors else ""))
    print(f"constraints: foreign keys {fks}, customer_id not null {not_null}")
    print(f"leads_master: {leads:,} rows, {linked:,} with customer_id; archived unlinkable"
          f" {archived:,}")
    print(f"second apply: {sum(again['figures']['rows'].values())} row(s) changed, constraints"
          f" {[item['state'] for item in again['constraints']]}")
    if args.cycles:
        cycles(env, url, args.out / str(args.rows), args.rows)


def new_calls(url: str, folder: Path, count: int = 1000) -> Path:
    """A Knowlarity call-log page: half the callers are CRM customers typed another way."""
    conn = psycopg2.connect(url)
    with conn.cursor() as cursor:
        cursor.execute("select phone_e164 from analytics.customers where phone_e164 like '+91%%'"
                       " order by random() limit %s", (count // 2,))
        known = [row[0] for row in cursor.fetchall()]
    conn.close()
    rng = random.Random(12)
    phones = [f"0{phone[3:8]} {phone[8:]}" for phone in known]
    phones += [f"+91{rng.choice('6789')}{rng.randrange(10**8, 10**9)}"
               for _ in range(count - len(phones))]
    stamp = int(time.time())
    objects = [{"uuid": f"bench-{stamp}-{index:05d}", "customer_number": phone,
                "agent_number": "+919008000222", "knowlarity_number": "+918069001002",
                "start_time": time.strftime("%Y-%m-%d %H:%M:%S+05:30"), "call_duration": 60,
                "business_call_type": "Inbound", "Call_Type": 0, "destination": ""}
               for index, phone in enumerate(phones)]
    path = folder / f"new_calls_{stamp}.json"
    path.write_text(json.dumps({"meta": {"total_count": len(objects)}, "objects": objects}))
    return path


def cycles(env: dict[str, str], url: str, folder: Path, rows: int) -> None:
    """Build + publish with nothing new, then with 1,000 new calls: publish's cost per cycle."""
    figures: dict[str, float] = {}
    results: dict[str, dict] = {}
    figures["dbt build (nothing new)"], _ = run(env, "dbt", "build")
    figures["publish dry run (nothing new)"], _ = run(env, "publish")
    figures["publish --apply (nothing new)"], text = run(env, "publish", "--apply", "--json")
    results["nothing new"] = json.loads(text)
    calls = new_calls(url, folder)
    figures["load file (1,000 calls)"], _ = run(env, "load", "file", "--source", "knowlarity",
                                                str(calls))
    figures["dbt build (1,000 calls)"], _ = run(env, "dbt", "build")
    figures["publish --apply (1,000 calls)"], text = run(env, "publish", "--apply", "--json")
    results["1,000 calls"] = json.loads(text)
    print(f"\ncycles on {rows:,} leads_master rows: wall time per command")
    for name, seconds in figures.items():
        print(f"  {name:<34} {seconds:8.1f} s")
    for name, result in results.items():
        written = {key: value for key, value in result["counts"].items() if value}
        print(f"  publish ({name}): staged {sum(result['plan']['staged'].values()):,} mart rows,"
              f" wrote {written or 'nothing'}")
    ratio = figures["publish --apply (1,000 calls)"] / figures["publish --apply (nothing new)"]
    print(f"  publish after 1,000 calls / publish with nothing new: {ratio:.2f}x")


if __name__ == "__main__":
    main()

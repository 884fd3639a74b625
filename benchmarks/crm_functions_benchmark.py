"""Benchmark of the CRM application's functions on a large CRM that leadlink never built: latency of
leadlink.find_or_create_customer_by_phone and leadlink.find_customer_with_leads_by_phone, one
connection, as the app calls them (each call its own transaction).

    .venv/bin/python benchmarks/crm_functions_benchmark.py [--rows 1000000] [--calls 2000]

1. `scripts/generate_legacy_crm.py --rows N` (skipped when --out already holds N rows): leads
   stored the ways the CRM stored them, the naive backfill's customers (one person in 2-3 rows);
2. `leadlink load legacy` into schema `crm` of database `leadlink_bench_crm` (recreated on the
   embedded server, or the one LEADLINK_DATABASE_URL names); no dbt build, no publish;
   (--keep-database: reuse the database an earlier run loaded);
3. `leadlink crm install` (timed: dbt renders the plan, the metadata is loaded, the indexes are
   built concurrently over the N leads);
4. on a new connection: the first call of each function (the session plans and caches), then
   --calls calls each, alternating: the lookup for a random person in a random writing; find-or-
   create for an existing person (70 %, random writing) or a new number (30 %, then found again
   in another writing); every answer is checked against the generator's truth;
5. the cost on the app's own writes: --calls single-row inserts into leads_master (the indexes'
   key function runs for each).

Prints p50 / p95 / p99 / max per function in ms (max includes the first call); the commit after
each call (a WAL flush when a customer was created) is timed apart, and the app's own
autocommit insert shows what a commit costs on the machine. No timing is
asserted: the figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import phonenumbers  # noqa: E402
import psycopg2  # noqa: E402
from psycopg2 import sql  # noqa: E402

from leadlink.runtime.database import resolve_database_url  # noqa: E402
from loaders.settings import Settings  # noqa: E402

DATABASE = "leadlink_bench_crm"
LEADLINK = str(ROOT / ".venv" / "bin" / "leadlink")


def generate(rows: int, out: Path) -> None:
    leads = out / "leads_master.csv"
    if leads.exists() and sum(1 for _ in leads.open(encoding="utf-8")) - 1 >= rows:
        print(f"reusing {out} ({rows:,} rows)")
        return
    started = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "scripts" / "generate_legacy_crm.py"),
                    "--rows", str(rows), "--out", str(out), "--quiet"], check=True)
    print(f"generated {rows:,} rows in {time.perf_counter() - started:.1f} s")


def database(env: dict[str, str]) -> str:
    if env.get("LEADLINK_DATABASE_URL"):
        return env["LEADLINK_DATABASE_URL"]
    admin = resolve_database_url(Settings.from_environ({**env, "LEADLINK_DATABASE_NAME": "postgres"}))
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))
        cursor.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))
    conn.close()
    return admin.rsplit("/", 1)[0] + "/" + DATABASE


def timed(label: str, command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{label} failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    detail = ""
    if "--json" in command:
        indexes = json.loads(result.stdout)["indexes"]
        detail = " (" + ", ".join(f"{name.removeprefix('leadlink_')} {state}"
                                  for name, state in indexes.items()) + ")"
    print(f"{label}: {elapsed:.1f} s{detail}")
    return elapsed


def writing(e164: str, rng: random.Random) -> str:
    national = e164[3:]
    return rng.choice([national, "0" + national, "91" + national, e164,
                       f"+91 {national[:5]} {national[5:]}", f"0{national[:5]}-{national[5:]}",
                       f"0091 {national}", f"(+91) {national[:5]} {national[5:]}"])


def people(out: Path) -> list[str]:
    """Distinct valid Indian E.164 numbers of the generated persons."""
    found: set[str] = set()
    with (out / "truth.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["true_e164"].startswith("+91"):
                found.add(row["true_e164"])
    return sorted(found)


def new_numbers(count: int, known: set[str], rng: random.Random) -> list[str]:
    numbers: list[str] = []
    while len(numbers) < count:
        candidate = "+91" + rng.choice("6789") + "".join(rng.choice("0123456789") for _ in range(9))
        number = phonenumbers.parse(candidate)
        if candidate not in known and phonenumbers.is_valid_number(number) and candidate not in numbers:
            numbers.append(candidate)
    return numbers


def summary(name: str, values: list[float], first: float) -> str:
    ordered = sorted(values)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    return (f"{name:<36} n={len(values):>5}  p50 {statistics.median(values):6.2f}  p95 {at(0.95):6.2f}"
            f"  p99 {at(0.99):6.2f}  max {max(max(values), first):7.2f} ms  (first call {first:.2f} ms)")


def measure(url: str, persons: list[str], calls: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    known = set(persons)
    fresh = new_numbers(calls, known, rng)
    conn = psycopg2.connect(url)
    lookup_ms: list[float] = []
    create_ms: list[float] = []
    existing_ms: list[float] = []
    new_ms: list[float] = []
    commit_ms: list[float] = []
    lines = []
    with conn.cursor() as cursor:
        def call(statement: str, params: tuple) -> tuple[object, float]:
            """Each call its own transaction, as PostgREST runs an rpc; the figure is the call,
            the commit (the server's WAL flush for a new customer) is counted apart."""
            started = time.perf_counter()
            cursor.execute(statement, params)
            answer = cursor.fetchone()[0]
            elapsed = (time.perf_counter() - started) * 1000
            committing = time.perf_counter()
            conn.commit()
            commit_ms.append((time.perf_counter() - committing) * 1000)
            return answer, elapsed

        lookup_sql = "select leadlink.find_customer_with_leads_by_phone(%s)"
        create_sql = "select leadlink.find_or_create_customer_by_phone(%s, %s)"
        target = rng.choice(persons)
        answer, first_lookup = call(lookup_sql, (writing(target, rng),))
        assert answer["phone_e164"] == target and answer["leads"], target
        _, first_create = call(create_sql, (writing(rng.choice(persons), rng), None))
        created: dict[str, int] = {}
        for number in range(calls):
            target = rng.choice(persons)
            answer, elapsed = call(lookup_sql, (writing(target, rng),))
            assert answer["phone_e164"] == target and answer["leads"], target
            lookup_ms.append(elapsed)
            if rng.random() < 0.7:
                target = rng.choice(persons)
                customer_id, elapsed = call(create_sql, (writing(target, rng), None))
                assert customer_id is not None
                existing_ms.append(elapsed)
            else:
                target = fresh[number]
                customer_id, elapsed = call(create_sql, (writing(target, rng), "Benchmark"))
                again, _ = call(create_sql, (writing(target, rng), None))
                assert again == customer_id
                created[target] = customer_id
                new_ms.append(elapsed)
            create_ms.append(elapsed)
        lines.append(summary("find_customer_with_leads_by_phone", lookup_ms, first_lookup))
        lines.append(summary("find_or_create_customer_by_phone", create_ms, first_create))
        lines.append(summary("  of which an existing person", existing_ms, first_create))
        lines.append(summary("  of which a new person (insert)", new_ms, first_create))
        lines.append(f"  {len(created)} new customers created, each found again in another writing")
        new_commits = sorted(commit_ms)
        lines.append(f"  commits after the calls: p50 {statistics.median(new_commits):.2f} ms, p95"
                     f" {new_commits[int(0.95 * len(new_commits))]:.2f} ms, max {new_commits[-1]:.2f} ms"
                     f" (a new customer's WAL flush; not in the figures above)")
        conn.autocommit = True
        insert_ms = []
        for _ in range(calls):
            started = time.perf_counter()
            cursor.execute("insert into crm.leads_master (full_name, phone_number_normalized,"
                           " alternate_phone_number, status) values ('Bench', %s, %s, 'New')",
                           (writing(rng.choice(persons), rng),
                            rng.choice([None, None, writing(rng.choice(persons), rng)])))
            insert_ms.append((time.perf_counter() - started) * 1000)
        lines.append(summary("app insert into leads_master (autocommit)", insert_ms, insert_ms[0]))
        for label, template, count in (("usual writing (fast path)", "'98450' || lpad(i::text, 5, '0')", 20000),
                                       ("(+91) writing (full parse)",
                                        "'(+91) 98450 ' || lpad(i::text, 5, '0')", 2000)):
            started = time.perf_counter()
            cursor.execute(f"select count(leadlink.crm_phone_e164({template}))"
                           f" from generate_series(1, {count}) as i")
            per_value = (time.perf_counter() - started) * 1e6 / count
            lines.append(f"  index key per value, {label}: {per_value:.0f} us (what each insert pays per phone)")
        cursor.execute("select count(*), pg_size_pretty(sum(pg_relation_size(indexrelid)))"
                       " from pg_index where indexrelid::regclass::text like 'crm.leadlink%%'")
        count, size = cursor.fetchone()
        lines.append(f"  leadlink's indexes on the CRM tables: {count}, {size}")
    conn.close()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/crm-functions-bench"))
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep-database", action="store_true",
                        help="reuse the loaded database of an earlier run (an upgrade: the install"
                             " rebuilds the indexes when the normaliser changed)")
    args = parser.parse_args()
    out = args.out / f"rows-{args.rows}"
    generate(args.rows, out)
    base = {**os.environ, "LEADLINK_CRM_SCHEMA": "crm",
            "DBT_TARGET_PATH": str(ROOT / "target" / "bench-crm-functions")}
    if args.keep_database:
        url = base.get("LEADLINK_DATABASE_URL") or resolve_database_url(
            Settings.from_environ({**base, "LEADLINK_DATABASE_NAME": DATABASE}))
    else:
        url = database(base)
    env = {**base, "LEADLINK_DATABASE_URL": url}
    if not args.keep_database:
        timed("leadlink load legacy (no dbt build)",
              [LEADLINK, "load", "legacy", "--leads", str(out / "leads_master.csv"), "--customers",
               str(out / "customers.csv"), "--sources", str(out / "sources.csv")], env)
    timed("leadlink crm install (render, metadata, indexes created or rebuilt concurrently)",
          [LEADLINK, "crm", "install", "--json"], env)
    timed("leadlink crm install again (idempotent)", [LEADLINK, "crm", "install", "--json"], env)
    persons = people(out)
    print(f"{args.rows:,} leads, {len(persons):,} distinct valid Indian numbers; one connection, warm")
    for line in measure(url, persons, args.calls, args.seed):
        print(line)


if __name__ == "__main__":
    main()

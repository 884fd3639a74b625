"""Benchmark of the legacy backfill: the CRM team's naive backfill against leadlink, on the
same synthetic CRM export, in one go on the same database, scored against the true person of
every lead; then the receptionist lookup's latency on the result.

    .venv/bin/python benchmarks/identity_benchmark.py [--rows 1000000] [--out /tmp/identity-bench]

1. `scripts/generate_legacy_crm.py --rows N` (skipped when --out already holds N rows);
2. naive: COPY sources + leads_master into schema `naive`, then one customer per distinct
   non-empty stored phone string and `update leads_master ... from customers` on equality;
3. leadlink: `leadlink load legacy --leads --sources` into schema `crm`, then `leadlink dbt build`
   (every model, seed and test);
4. scoring (not timed), for both: customers created; people split across several customers; leads
   linked to a customer that is not their person (junk, truncated or someone else's number, judged
   by `phonenumbers` as an independent oracle); real numbers left unlinked;
5. `leadlink lookup` latency: --lookups phones of random people in random writings, one
   connection, p50 / p95 / p99.

Both sides start from the same CSV files. The database is `leadlink_bench_identity` on the
embedded server (recreated), or the one LEADLINK_DATABASE_URL names (schemas naive, crm and the
marts are replaced). No timing is asserted: the figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import phonenumbers  # noqa: E402
import psutil  # noqa: E402
import psycopg2  # noqa: E402
from psycopg2 import sql  # noqa: E402

from leadlink.identity.lookup import lookup  # noqa: E402
from leadlink.runtime.database import resolve_database_url  # noqa: E402
from loaders.legacy import CRM_DDL  # noqa: E402
from loaders.settings import Settings  # noqa: E402

DATABASE = "leadlink_bench_identity"
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


def database(settings_env: dict[str, str]) -> str:
    if settings_env.get("LEADLINK_DATABASE_URL"):
        return settings_env["LEADLINK_DATABASE_URL"]
    settings = Settings.from_environ({**settings_env, "LEADLINK_DATABASE_NAME": "postgres"})
    admin = resolve_database_url(settings)
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(sql.SQL("drop database if exists {} with (force)").format(
            sql.Identifier(DATABASE)))
        cursor.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))
    conn.close()
    return admin.rsplit("/", 1)[0] + "/" + DATABASE


def run_naive(url: str, out: Path) -> dict[str, float]:
    conn = psycopg2.connect(url)
    timings: dict[str, float] = {}
    with conn, conn.cursor() as cursor:
        cursor.execute("drop schema if exists naive cascade; create schema naive")
        cursor.execute(CRM_DDL.format(schema="naive"))
    started = time.perf_counter()
    with conn, conn.cursor() as cursor:
        for table in ("sources", "leads_master"):
            with (out / f"{table}.csv").open(encoding="utf-8") as handle:
                cursor.copy_expert(f"copy naive.{table} from stdin with (format csv, header)",
                                   handle)
    timings["load (COPY)"] = time.perf_counter() - started
    started = time.perf_counter()
    with conn, conn.cursor() as cursor:
        cursor.execute("""
            insert into naive.customers (phone_number_normalized, full_name, created_at, updated_at)
            select distinct on (phone_number_normalized)
                phone_number_normalized, full_name, now(), now()
            from naive.leads_master
            where coalesce(phone_number_normalized, '') <> ''
            order by phone_number_normalized, id
        """)
        cursor.execute("""
            update naive.leads_master as lm set customer_id = c.id
            from naive.customers as c
            where c.phone_number_normalized = lm.phone_number_normalized
        """)
    timings["backfill (insert + update join)"] = time.perf_counter() - started
    conn.close()
    return timings


class ServerMemory:
    """Samples the summed RSS of the PostgreSQL server processes while a step runs."""

    def __init__(self) -> None:
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            total = 0
            for process in psutil.process_iter(["name", "memory_info"]):
                if process.info["name"] == "postgres" and process.info["memory_info"]:
                    total += process.info["memory_info"].rss
            self.peak_mib = max(self.peak_mib, total / 2**20)

    def __enter__(self) -> ServerMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def run_leadlink(url: str, out: Path, env: dict[str, str]) -> dict[str, float]:
    timings: dict[str, float] = {}
    steps = [
        ("load legacy", [LEADLINK, "load", "legacy", "--leads", str(out / "leads_master.csv"),
                         "--sources", str(out / "sources.csv")]),
        ("dbt build", [LEADLINK, "dbt", "build", "--quiet"]),
    ]
    for name, command in steps:
        started = time.perf_counter()
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        timings[name] = time.perf_counter() - started
        if result.returncode != 0:
            sys.exit(f"{name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return timings


def oracle_e164(raw: str) -> str | None:
    """What a lenient reader makes of a stored string: libphonenumber with region IN, else '+' and
    the digits (foreign numbers stored without their plus). Scoring only."""
    for candidate, region in ((raw, "IN"), ("+" + raw.lstrip("+"), None)):
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def score(url: str, out: Path) -> dict[str, dict[str, int]]:
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cursor:
        cursor.execute("drop table if exists bench_truth, bench_person, bench_naive_phone")
        cursor.execute("create unlogged table bench_truth"
                       " (lead_id bigint primary key, person_id bigint, true_e164 text)")
        with (out / "truth.csv").open(encoding="utf-8") as handle:
            cursor.copy_expert("copy bench_truth from stdin with (format csv, header)", handle)
        cursor.execute("select distinct alternate_phone_number from naive.leads_master"
                       " where coalesce(alternate_phone_number, '') <> ''")
        alternates = [(raw, oracle_e164(raw)) for (raw,) in cursor.fetchall()]
        cursor.execute("create temp table bench_alternate (raw text primary key, e164 text)")
        cursor.executemany("insert into bench_alternate values (%s, %s)", alternates)
        # a person's real number: what truth says, else their alternate phone (the generator
        # writes the person's own number there)
        cursor.execute("""
            create unlogged table bench_person as
            select truth.person_id,
                coalesce(max(nullif(truth.true_e164, '')), max(alternate.e164)) as e164
            from bench_truth as truth
            inner join naive.leads_master as lm on lm.id = truth.lead_id
            left join bench_alternate as alternate on alternate.raw = lm.alternate_phone_number
            group by truth.person_id
        """)
        cursor.execute("create unique index on bench_person (person_id)")
        # the oracle's reading of every naive customer's phone string
        cursor.execute("create unlogged table bench_naive_phone (customer_id bigint, e164 text)")
        cursor.execute("select id, phone_number_normalized from naive.customers")
        rows = [(customer_id, oracle_e164(raw)) for customer_id, raw in cursor.fetchall()]
        _copy_rows(cursor, "bench_naive_phone", rows)
        cursor.execute("analyze bench_truth; analyze bench_person; analyze bench_naive_phone")
        links = {
            "naive": """
                select truth.lead_id, truth.person_id, lm.customer_id, phone.e164 as customer_e164
                from naive.leads_master as lm
                inner join bench_truth as truth on truth.lead_id = lm.id
                left join bench_naive_phone as phone on phone.customer_id = lm.customer_id
            """,
            "leadlink": """
                select truth.lead_id, truth.person_id, leads.customer_id,
                    customers.phone_e164 as customer_e164
                from analytics.leads as leads
                inner join bench_truth as truth on truth.lead_id = leads.legacy_lead_id
                left join analytics.customers as customers
                    on customers.customer_id = leads.customer_id
            """,
        }
        figures: dict[str, dict[str, int]] = {}
        for method, link_query in links.items():
            customers_table = "naive.customers" if method == "naive" else "analytics.customers"
            cursor.execute(f"""
                with links as ({link_query})
                select
                    (select count(*) from {customers_table}),
                    (select count(*) from (
                        select person_id from links where customer_id is not null
                        group by person_id having count(distinct customer_id) > 1) as split),
                    count(*) filter (
                        where links.customer_id is not null
                        and links.customer_e164 is distinct from person.e164),
                    count(*) filter (where links.customer_id is null and truth.true_e164 <> ''),
                    count(*) filter (where links.customer_id is null and truth.true_e164 like '+91%'),
                    count(*) filter (where links.customer_id is not null)
                from links
                inner join bench_person as person on person.person_id = links.person_id
                inner join bench_truth as truth on truth.lead_id = links.lead_id
            """)
            created, split, wrong, unlinked, unlinked_indian, linked = cursor.fetchone()
            figures[method] = {"customers created": created, "people split": split,
                               "leads linked to junk / another person": wrong,
                               "leads linked": linked,
                               "real numbers left unlinked": unlinked,
                               "  of them Indian": unlinked_indian}
        cursor.execute("select count(distinct person_id), count(*) from bench_truth")
        people, leads = cursor.fetchone()
        figures["truth"] = {"people": people, "leads": leads}
        cursor.execute("drop table bench_truth, bench_person, bench_naive_phone")
    conn.close()
    return figures


def _copy_rows(cursor, table: str, rows: list[tuple[int, str | None]]) -> None:
    import io

    buffer = io.StringIO()
    for customer_id, e164 in rows:
        buffer.write(f"{customer_id}\t{e164 if e164 is not None else chr(92) + 'N'}\n")
    buffer.seek(0)
    cursor.copy_expert(f"copy {table} from stdin", buffer)


def writings(national: str, rng: random.Random) -> str:
    forms = [national, "0" + national, "91" + national, "+91" + national,
             f"+91 {national[:5]} {national[5:]}", f"0{national[:5]}-{national[5:]}",
             f"0091 {national}", f"+91 (0) {national[:5]} {national[5:]}"]
    return rng.choice(forms)


def lookups(url: str, settings: Settings, count: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    conn = psycopg2.connect(url)
    with conn.cursor() as cursor:
        cursor.execute("select phone_e164 from analytics.customers tablesample system (5)"
                       " where phone_e164 like '+91%%' limit %s", (count,))
        phones = [row[0] for row in cursor.fetchall()]
        rng.shuffle(phones)
        latencies = []
        for e164 in phones:
            raw = writings(e164[3:], rng)
            started = time.perf_counter()
            result = lookup(settings, cursor, raw)
            latencies.append((time.perf_counter() - started) * 1000)
            assert result.found and result.phone_e164 == e164, raw
        conn.rollback()
    conn.close()
    return latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/identity-bench"))
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    out = args.out / f"rows-{args.rows}"
    generate(args.rows, out)
    base_env = {**os.environ, "LEADLINK_CRM_SCHEMA": "crm",
                "DBT_TARGET_PATH": str(ROOT / "target" / "bench-identity")}
    url = database(base_env)
    env = {**base_env, "LEADLINK_DATABASE_URL": url}

    naive = run_naive(url, out)
    print(f"naive: {', '.join(f'{step} {seconds:.1f} s' for step, seconds in naive.items())}",
          file=sys.stderr)
    with ServerMemory() as server_memory:
        ours = run_leadlink(url, out, env)
    print(f"leadlink: {', '.join(f'{step} {seconds:.1f} s' for step, seconds in ours.items())}",
          file=sys.stderr)
    naive_total, ours_total = sum(naive.values()), sum(ours.values())
    figures = score(url, out)
    settings = Settings.from_environ(env)
    # the lookup is the CRM function (`leadlink crm install`); benchmarks/crm_functions_benchmark.py
    subprocess.run([LEADLINK, "crm", "install"], env=env, check=True, capture_output=True)
    latencies = lookups(url, settings, args.lookups, args.seed)
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    truth = figures.pop("truth")
    print(f"\n{args.rows:,} leads_master rows ({truth['people']:,} people), one database")
    print(f"{'':<40}{'naive backfill':>16}{'leadlink':>16}")
    for step, seconds in naive.items():
        print(f"  naive {step:<34}{seconds:>15.1f}s")
    for step, seconds in ours.items():
        print(f"  leadlink {step:<31}{'':>16}{seconds:>15.1f}s")
    print(f"{'time, total':<40}{naive_total:>15.1f}s{ours_total:>15.1f}s")
    for key in figures["naive"]:
        print(f"{key:<40}{figures['naive'][key]:>16,}{figures['leadlink'][key]:>16,}")
    print(f"ratio leadlink / naive time: {ours_total / naive_total:.2f}"
          f" (target <= 1.00); without the naive COPY: {ours_total / naive[list(naive)[1]]:.2f}")
    print(f"lookup latency over {len(latencies):,} phones in random writings: p50 "
          f"{statistics.median(latencies):.2f} ms, p95 {percentile(latencies, 0.95):.2f} ms, "
          f"p99 {percentile(latencies, 0.99):.2f} ms (target p95 < 10 ms)")
    print(f"peak RSS: leadlink/dbt processes {child_rss:,.0f} MiB, PostgreSQL server (all"
          f" processes, shared buffers counted per process) {server_memory.peak_mib:,.0f} MiB")


if __name__ == "__main__":
    main()

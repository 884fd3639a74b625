"""Benchmark of raw landing: our landing path vs a bare COPY vs insert-per-record.

200,000 realistic Knowlarity call-log records (the shape of samples/knowlarity), landed three ways
into a private database (`leadlink_bench_landing` on the embedded server, or the database of
LEADLINK_DATABASE_URL when set: then it uses the schema `bench_landing_raw` and drops it after):

1. landing path: `loaders.landing.land_items` exactly as the API loaders use it (canonical JSON,
   md5 version hash, COPY into a temp buffer, one set-based insert with ON CONFLICT dedup,
   lineage columns, commit per chunk of 5,000);
2. bare COPY: the same rows (key + JSON text, text format) COPYed into a plain two-column table
   (text, jsonb) with no index, no dedup, one transaction: the ceiling;
3. insert-per-record: one INSERT ... ON CONFLICT DO NOTHING per record into the raw table,
   (a) autocommit, a commit per row, as the CRM's sync scripts do: the target's baseline;
   (b) the kinder variant, all rows in one transaction (round trips only), printed for honesty.
   Both measured on a sample (default 10,000) and extrapolated linearly to the full count.

All three start from Python dicts, so JSON serialisation is inside every timing. Each method runs
`--repeat` times (default 3), interleaved, and the best run counts (the machine may be shared).

    .venv/bin/python benchmarks/landing_benchmark.py [--records 200000] [--sample 10000]

Targets: landing >= 50% of bare COPY throughput, >= 20x insert-per-record.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402
import psycopg2  # noqa: E402
from psycopg2 import sql  # noqa: E402

from leadlink.runtime.database import resolve_database_url  # noqa: E402
from leadlink.runtime.embedded import server_url  # noqa: E402
from loaders.database import migrate  # noqa: E402
from loaders.landing import canonical_json, finish_batch, land_items, start_batch  # noqa: E402
from loaders.settings import Settings  # noqa: E402
from loaders.shapes import Record  # noqa: E402

IST = timezone(timedelta(hours=5, minutes=30))
DATABASE = "leadlink_bench_landing"


def make_records(count: int, seed: int = 6) -> list[dict]:
    rng = random.Random(seed)
    newest = datetime(2025, 12, 6, 18, 0, tzinfo=IST)
    types = ["Call Group", "Missed Call", "Phone", "Outbound", "DTMF", "Sound"]
    records = []
    for index in range(count):
        missed = rng.random() < 0.3
        uid = f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-{rng.getrandbits(16):04x}-" \
              f"{rng.getrandbits(16):04x}-{rng.getrandbits(48):012x}"
        records.append({
            "uuid": uid,
            "knowlarity_number": f"+9180690010{rng.randint(0, 99):02d}",
            "agent_number": "NA" if missed else f"+9198450001{rng.randint(0, 99):02d}",
            "destination": "" if missed else rng.choice(["Sales Queue", "+919845000111", ""]),
            "start_time": (newest - timedelta(seconds=37 * index)).strftime(
                "%Y-%m-%d %H:%M:%S+05:30"),
            "call_duration": 0 if missed else rng.randint(5, 900),
            "call_recording": "" if missed else
            f"https://konnect.knowlarity.com/konnect/api/v1/1234/{uid}",
            "business_call_type": "Missed Call" if missed else rng.choice(types),
            "Call_Type": rng.choice([0, 1, "0"]),
            "customer_number": rng.choice(["+91 ", "0", "", "91"]) +
            f"9{rng.randint(100000000, 999999999)}",
        })
    return records


def database_and_settings() -> tuple[str, Settings, bool]:
    if os.environ.get("LEADLINK_DATABASE_URL"):
        settings = Settings.from_environ({**os.environ, "LEADLINK_RAW_SCHEMA": "bench_landing_raw"})
        return settings.database_url or "", settings, True
    settings = Settings.from_environ({**os.environ, "LEADLINK_DATABASE_NAME": DATABASE})
    url = resolve_database_url(settings)
    admin = url.rsplit("/", 1)[0] + "/postgres"
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(sql.SQL("drop database if exists {} with (force)").format(
            sql.Identifier(DATABASE)))
        cursor.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))
    conn.close()
    return url, settings, False


def bench_landing(url: str, settings: Settings, records: list[dict]) -> float:
    conn = psycopg2.connect(url)
    with conn.cursor() as cursor:
        cursor.execute(sql.SQL("truncate {}.knowlarity_calls").format(
            sql.Identifier(settings.raw_schema)))
        batch_id = start_batch(cursor, settings, "knowlarity", "benchmark")
    conn.commit()
    started = time.perf_counter()
    items = (Record(record["uuid"], "calllog", record) for record in records)
    counts = land_items(conn, settings, "knowlarity", items, batch_id, "benchmark")
    elapsed = time.perf_counter() - started
    assert counts.landed == len(records), counts
    with conn.cursor() as cursor:
        finish_batch(cursor, settings, batch_id, counts, "succeeded")
    conn.commit()
    conn.close()
    return elapsed


def bench_bare_copy(url: str, settings: Settings, records: list[dict]) -> float:
    conn = psycopg2.connect(url)
    with conn.cursor() as cursor:
        cursor.execute(sql.SQL("create table if not exists {}.bench_plain"
                               " (natural_key text, payload jsonb)")
                       .format(sql.Identifier(settings.raw_schema)))
        cursor.execute(sql.SQL("truncate {}.bench_plain").format(sql.Identifier(settings.raw_schema)))
    conn.commit()
    started = time.perf_counter()
    # PostgreSQL's text format, the cheapest to build (JSON text needs only its backslashes
    # doubled), and the fastest serialiser we have: the ceiling
    lines = [record["uuid"] + "\t" + orjson.dumps(record).decode().replace("\\", "\\\\")
             for record in records]
    lines.append("")
    with conn.cursor() as cursor:
        cursor.copy_expert(sql.SQL("copy {}.bench_plain from stdin").format(
            sql.Identifier(settings.raw_schema)).as_string(cursor), io.StringIO("\n".join(lines)))
    conn.commit()
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def bench_insert_per_record(url: str, settings: Settings, records: list[dict],
                            autocommit: bool) -> float:
    import hashlib

    conn = psycopg2.connect(url)
    with conn.cursor() as cursor:
        batch_id = start_batch(cursor, settings, "knowlarity", "benchmark-insert")
    conn.commit()
    statement = sql.SQL(
        "insert into {}.knowlarity_calls (call_uuid, payload, payload_shape, payload_md5,"
        " batch_id, landed_from) values (%s, %s::jsonb, 'calllog', %s, %s, 'benchmark')"
        " on conflict (call_uuid, payload_md5) do nothing"
    ).format(sql.Identifier(settings.raw_schema))
    conn.autocommit = autocommit
    prefix = "a-" if autocommit else "i-"
    started = time.perf_counter()
    with conn.cursor() as cursor:
        for record in records:
            text = canonical_json(record)  # the same text and hash as the landing path
            cursor.execute(statement, (prefix + record["uuid"], text,
                                       hashlib.md5(text.encode()).hexdigest(), batch_id))
    if not autocommit:
        conn.commit()
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--sample", type=int, default=10_000,
                        help="records for the insert-per-record loop (extrapolated)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each method, interleaved; the best time counts")
    args = parser.parse_args()
    url, settings, external = database_and_settings()
    migrate(url, settings)
    records = make_records(args.records)
    copy_runs, landing_runs, insert_runs, one_tx_runs = [], [], [], []
    for run in range(args.repeat):
        copy_runs.append(bench_bare_copy(url, settings, records))
        landing_runs.append(bench_landing(url, settings, records))
        # unique keys per run: the loop inserts, it never hits ON CONFLICT
        sample = make_records(args.sample, seed=100 + run)
        insert_runs.append(bench_insert_per_record(url, settings, sample, True))
        one_tx_runs.append(bench_insert_per_record(url, settings, sample, False))
    copy_s, landing_s = min(copy_runs), min(landing_runs)
    insert_s = min(insert_runs) * args.records / args.sample
    one_tx_s = min(one_tx_runs) * args.records / args.sample
    print(f"runs (s): bare COPY {[round(x, 2) for x in copy_runs]}, landing "
          f"{[round(x, 2) for x in landing_runs]}, insert-per-record sample autocommit "
          f"{[round(x, 2) for x in insert_runs]}, one transaction {[round(x, 2) for x in one_tx_runs]}")
    rate = lambda seconds: args.records / seconds  # noqa: E731
    print(f"records: {args.records:,} Knowlarity call-log objects "
          f"(~{len(json.dumps(records[0]))} bytes of JSON each)")
    print(f"bare COPY into a plain table:   {copy_s:7.2f} s  {rate(copy_s):>10,.0f} records/s")
    print(f"landing path (land_items):      {landing_s:7.2f} s  {rate(landing_s):>10,.0f} records/s")
    print(f"insert per record, autocommit (CRM style; {args.sample:,} sample, extrapolated): "
          f"{insert_s:7.2f} s  {rate(insert_s):>10,.0f} records/s")
    print(f"insert per record, one transaction ({args.sample:,} sample, extrapolated): "
          f"{one_tx_s:7.2f} s  {rate(one_tx_s):>10,.0f} records/s")
    print(f"landing / bare COPY throughput: {copy_s / landing_s:6.1%}  (target >= 50%)")
    print(f"landing / insert-per-record (autocommit):      {insert_s / landing_s:6.1f}x "
          f"(target >= 20x)")
    print(f"landing / insert-per-record (one transaction): {one_tx_s / landing_s:6.1f}x")
    if external:
        conn = psycopg2.connect(url)
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(sql.SQL("drop schema {} cascade").format(
                sql.Identifier(settings.raw_schema)))
        conn.close()
    else:
        conn = psycopg2.connect(server_url(int(url.rsplit(":", 1)[1].split("/")[0]), "postgres"))
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(sql.SQL("drop database if exists {} with (force)").format(
                sql.Identifier(DATABASE)))
        conn.close()


if __name__ == "__main__":
    main()

"""Peak memory of `leadlink load file` on a big JSON Lines file: it must stay flat, whatever the size.

Generates a Knowlarity call-log JSON Lines file of `--size-mb` (default 200 MB; realistic records,
the shape of samples/knowlarity), then runs `leadlink load file --source knowlarity FILE` in a child
process against a fresh database (`leadlink_bench_file` on the embedded server, or the server of
LEADLINK_DATABASE_URL) and reads the child's peak RSS from wait4(). Prints the file size, the peak
RSS, their ratio, the time and the throughput.

    .venv/bin/python benchmarks/file_memory_benchmark.py [--size-mb 200] [--code DIR]

`--code DIR` runs another checkout's `leadlink` / `loaders` packages (for a before/after figure),
e.g. `mkdir /tmp/old && git archive <commit> leadlink loaders | tar -x -C /tmp/old`.
Target: peak RSS independent of the file size (well under the file's size for 200 MB).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg2  # noqa: E402
from psycopg2 import sql  # noqa: E402

from leadlink.runtime.database import resolve_database_url  # noqa: E402
from loaders.settings import Settings  # noqa: E402

DATABASE = "leadlink_bench_file"
TYPES = ["Call Group", "Missed Call", "Phone", "Outbound", "DTMF", "Sound"]


def write_file(path: Path, size_mb: float, seed: int = 7) -> int:
    """Streams records to `path` until it holds `size_mb` MB; returns the record count."""
    rng = random.Random(seed)
    target = int(size_mb * 1024 * 1024)
    written = count = 0
    with open(path, "w", encoding="utf-8") as handle:
        while written < target:
            uid = f"{rng.getrandbits(64):016x}-{count:012d}"
            missed = rng.random() < 0.3
            line = json.dumps({
                "uuid": uid, "knowlarity_number": f"+9180690010{rng.randint(0, 99):02d}",
                "agent_number": "NA" if missed else f"+9198450001{rng.randint(0, 99):02d}",
                "start_time": f"2025-12-{1 + count % 28:02d} 11:{count % 60:02d}:21+05:30",
                "call_duration": 0 if missed else rng.randint(5, 900),
                "call_recording": "" if missed else
                f"https://konnect.knowlarity.com/konnect/api/v1/1234/{uid}",
                "business_call_type": "Missed Call" if missed else rng.choice(TYPES),
                "Call_Type": rng.choice([0, 1, "0"]),
                "customer_number": rng.choice(["+91 ", "0", "", "91"])
                + f"9{rng.randint(100000000, 999999999)}",
            }) + "\n"
            handle.write(line)
            written += len(line)
            count += 1
    return count


def fresh_database() -> str:
    settings = Settings.from_environ({**os.environ, "LEADLINK_DATABASE_NAME": DATABASE})
    url = resolve_database_url(settings)
    head, _, tail = url.rpartition("/")
    _, _, params = tail.partition("?")
    admin = f"{head}/postgres" + (f"?{params}" if params else "")
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(sql.SQL("drop database if exists {} with (force)").format(
            sql.Identifier(DATABASE)))
        cursor.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))
    conn.close()
    return f"{head}/{DATABASE}" + (f"?{params}" if params else "")


def run_load(path: Path, url: str, code: Path | None) -> tuple[int, float, str]:
    """(peak RSS in bytes, seconds, last output line) of one `leadlink load file` child."""
    env = {**os.environ, "LEADLINK_DATABASE_URL": url}
    if code is not None:
        env["PYTHONPATH"] = str(code)
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, "-m", "leadlink.cli.main", "load", "file",
                              "--source", "knowlarity", str(path)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    output = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"load file failed: {output}")
    lines = output.strip().splitlines()
    return usage.ru_maxrss * 1024, seconds, lines[-1] if lines else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=200.0)
    parser.add_argument("--code", type=Path, default=None,
                        help="another checkout's root (holding leadlink/ and loaders/)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="leadlink-file-bench-") as folder:
        path = Path(folder) / "calls.jsonl"
        records = write_file(path, args.size_mb)
        size = path.stat().st_size
        peak, seconds, summary = run_load(path, fresh_database(), args.code)
    mb = 1024 * 1024
    print(f"file: {size / mb:.0f} MB, {records} records ({'this checkout' if args.code is None else args.code})")
    print(f"peak RSS of `leadlink load file`: {peak / mb:.0f} MB = {peak / size:.2f}x the file")
    print(f"time: {seconds:.1f} s ({records / seconds:,.0f} records/s); {summary}")


if __name__ == "__main__":
    main()

"""Shared set-up for the phone benchmarks: a database with the normaliser installed."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from leadlink.identity.phone import ensure_functions, function_schema  # noqa: E402
from leadlink.runtime.database import prepare  # noqa: E402
from loaders.database import connect  # noqa: E402
from loaders.settings import Settings  # noqa: E402


def database() -> tuple[Settings, str]:
    """The benchmark database: LEADLINK_DATABASE_URL, else `leadlink_bench` on the embedded server."""
    environ = dict(os.environ)
    environ.setdefault("LEADLINK_DATABASE_NAME", "leadlink_bench")
    environ.setdefault("DBT_TARGET_PATH", str(ROOT / "target" / "bench"))
    os.environ.update({key: environ[key] for key in ("DBT_TARGET_PATH",)})
    settings = Settings.from_environ(environ)
    url = prepare(settings)
    ensure_functions(settings, url)
    return settings, url


def sql_parse(url: str, schema: str, values: list[str], batch: int = 100_000,
              parallel: bool = False) -> tuple[list[tuple[str | None, str | None]], float]:
    """Parse every value through <schema>.parse_phones; returns answers and seconds."""
    conn = connect(url)
    answers: list[tuple[str | None, str | None]] = []
    with conn.cursor() as cursor:
        if not parallel:
            cursor.execute("set max_parallel_workers_per_gather = 0")
        started = time.perf_counter()
        for start in range(0, len(values), batch):
            cursor.execute(
                f'select phone_e164, unusable_reason from "{schema}".parse_phones(%s)'
                " order by input_position", (values[start:start + batch],))
            answers.extend(cursor.fetchall())
        elapsed = time.perf_counter() - started
    conn.close()
    return answers, elapsed


__all__ = ["database", "function_schema", "sql_parse"]

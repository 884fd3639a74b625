"""`leadlink phone normalize`: raw phone strings in, CSV `input,e164,reason` out, one row per input
line in input order. The answers come from the database functions built from the dbt macros
(the one normaliser); nothing here parses a phone number."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import click

from leadlink.runtime.dbt_runner import run_dbt
from loaders.database import connection
from loaders.settings import Settings

log = logging.getLogger("leadlink.phone")

BATCH_SIZE = 20_000
PHONE_SEEDS = ["phone_regions", "phone_valid_patterns", "phone_test_numbers"]


def function_schema(settings: Settings) -> str:
    """LEADLINK_FUNCTION_SCHEMA: dbt installs the functions there too (macro phone_function_schema)."""
    return settings.function_schema


def functions_installed(url: str, schema: str) -> bool:
    with connection(url, "leadlink-phone") as conn, conn.cursor() as cursor:
        cursor.execute("select to_regprocedure(%s) is not null",
                       (f"{schema}.parse_phones(text[], text)",))
        return bool(cursor.fetchone()[0])


def ensure_functions(settings: Settings, url: str) -> None:
    """Install the normaliser functions (seeds first) when the database does not have them."""
    schema = function_schema(settings)
    if functions_installed(url, schema):
        return
    log.info("installing the phone normaliser functions into %s (dbt seed + run-operation)", schema)
    for args in (["seed", "--select", *PHONE_SEEDS],
                 ["run-operation", "install_phone_functions"]):
        result = run_dbt(settings, url, args, capture=True)
        if result.returncode != 0:
            raise click.ClickException(
                f"dbt {' '.join(args)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def read_lines(paths: Iterable[Path], stdin: IO[str]) -> Iterator[str]:
    """Every line of every file (stdin when none), without its line ending; empty lines too."""
    sources = [path.open(encoding="utf-8", errors="replace", newline="") for path in paths] or [stdin]
    for source in sources:
        for line in source:
            yield line.rstrip("\n").rstrip("\r")


def _batches(lines: Iterator[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for line in lines:
        batch.append(line.replace("\x00", ""))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def normalize_stream(settings: Settings, url: str, lines: Iterator[str], out: IO[str],
                     default_region: str = "IN", batch_size: int = BATCH_SIZE) -> int:
    """Write `input,e164,reason` rows for every line; returns how many were written."""
    schema = function_schema(settings)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["input", "e164", "reason"])
    written = 0
    with connection(url, "leadlink-phone") as conn, conn.cursor() as cursor:
        query = (f'select phone_e164, unusable_reason from "{schema}".parse_phones(%s, %s)'
                 " order by input_position")
        for batch in _batches(lines, batch_size):
            cursor.execute(query, (batch, default_region))
            rows = cursor.fetchall()
            if len(rows) != len(batch):
                raise RuntimeError(f"normaliser answered {len(rows)} rows for {len(batch)} inputs")
            for raw, (e164, reason) in zip(batch, rows, strict=True):
                writer.writerow([raw, e164 or "", reason or ""])
            written += len(batch)
    return written

"""Short transactions: every write publish makes runs here, one id range (or one DDL statement) per
transaction, with `lock_timeout` and `statement_timeout` set for that transaction only
(`set_config(..., true)`: nothing outlives it, so a transaction pooler may hand the next one to
another backend), retried with backoff when a lock was not granted in time."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql

from leadlink.crm.publish.target import PUBLISH_SCHEMA, PublishTarget

log = logging.getLogger("leadlink.publish.batches")

RETRIABLE = (psycopg2.errors.LockNotAvailable, psycopg2.errors.DeadlockDetected,
             psycopg2.errors.SerializationFailure)
Result = TypeVar("Result")


class PublishLockError(RuntimeError):
    """A lock stayed busy through every attempt; the step can be resumed by running again."""


class ShortfallError(RuntimeError):
    """A write changed fewer rows than its own condition selects: something (a row-level security
    policy, a trigger) filtered it silently. Never reported as success."""


@dataclass
class Figures:
    """Timings of one run, per step, and the longest single transaction (what the app can feel)."""
    step_seconds: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    transactions: int = 0
    retries: int = 0
    longest_transaction_ms: float = 0.0
    longest_transaction: str = ""
    longest_ddl_lock_ms: float = 0.0
    validate_ms: dict[str, float] = field(default_factory=dict)

    def note(self, label: str, elapsed_ms: float, kind: str = "dml") -> None:
        """kind: dml (row locks on a key range), ddl (a brief table lock), validate (a scan under
        SHARE UPDATE EXCLUSIVE, which blocks no reads or writes), read (a plain read)."""
        self.transactions += 1
        if kind in ("validate", "read"):
            self.validate_ms[label] = elapsed_ms
            return
        if elapsed_ms > self.longest_transaction_ms:
            self.longest_transaction_ms = elapsed_ms
            self.longest_transaction = label
        if kind == "ddl":
            self.longest_ddl_lock_ms = max(self.longest_ddl_lock_ms, elapsed_ms)

    def as_dict(self) -> dict:
        return {
            "step_seconds": {name: round(value, 3) for name, value in self.step_seconds.items()},
            "rows": dict(self.rows),
            "transactions": self.transactions,
            "retries": self.retries,
            "longest_transaction_ms": round(self.longest_transaction_ms, 1),
            "longest_transaction": self.longest_transaction,
            "longest_ddl_ms": round(self.longest_ddl_lock_ms, 1),
            "validate_ms": {name: round(value, 1) for name, value in self.validate_ms.items()},
        }


def set_timeouts(target: PublishTarget, cursor: psycopg2.extensions.cursor) -> None:
    """For the current transaction only."""
    cursor.execute("select set_config('lock_timeout', %s, true),"
                   " set_config('statement_timeout', %s, true)",
                   (f"{target.lock_timeout_ms}ms", f"{target.statement_timeout_ms}ms"))


def in_transaction(target: PublishTarget, conn: psycopg2.extensions.connection, figures: Figures,
                   label: str, work: Callable[[psycopg2.extensions.cursor], Result],
                   kind: str = "dml") -> Result:
    """Run `work` in its own transaction with the timeouts; retry when a lock was not granted."""
    delay = 0.05
    for attempt in range(1, target.attempts + 1):
        started = time.perf_counter()
        try:
            with conn.cursor() as cursor:
                set_timeouts(target, cursor)
                result = work(cursor)
            conn.commit()
        except RETRIABLE as error:
            conn.rollback()
            figures.retries += 1
            log.warning("%s: %s (attempt %d of %d)", label, type(error).__name__, attempt,
                        target.attempts)
            if attempt < target.attempts:
                time.sleep(delay + random.uniform(0, delay))
                delay = min(delay * 2, 5.0)
            continue
        except BaseException:
            conn.rollback()
            raise
        figures.note(label, (time.perf_counter() - started) * 1000, kind)
        return result
    raise PublishLockError(f"{label}: lock not granted after {target.attempts} attempts of"
                           f" {target.lock_timeout_ms} ms; run publish again to resume")


def key_ranges(conn: psycopg2.extensions.connection, table: sql.Identifier, key: str,
               batch_size: int) -> list[tuple[int, int]]:
    """(low, high] ranges of `key` over a work table, `batch_size` keys each."""
    column = sql.Identifier(key)
    with conn.cursor() as cursor:
        cursor.execute(sql.SQL(
            "select {key} from (select {key}, row_number() over (order by {key}) as position"
            " from {table}) as numbered where mod(position, %s) = 0 order by {key}").format(
            key=column, table=table), (batch_size,))
        bounds = [int(row[0]) for row in cursor.fetchall()]
        cursor.execute(sql.SQL("select min({key}), max({key}) from {table}").format(
            key=column, table=table))
        low, high = cursor.fetchone()
    conn.commit()
    if low is None:
        return []
    edges = [int(low) - 1, *[bound for bound in bounds if bound < high], int(high)]
    return list(zip(edges[:-1], edges[1:], strict=True))


PROGRESS = sql.SQL("update {}.step_progress set last_key = %s, rows_changed = rows_changed + %s"
                   " where batch_id = %s and step = %s").format(sql.Identifier(PUBLISH_SCHEMA))


def run_ranges(target: PublishTarget, conn: psycopg2.extensions.connection, figures: Figures,
               batch_id: int, step: str, table: sql.Identifier, key: str,
               statement: sql.Composable, left_over: sql.Composable | None = None) -> int:
    """Run `statement` (parameters %(batch_id)s, %(low)s, %(high)s) once per key range of the work
    table, each range its own short transaction that also records the step's progress. With
    `left_over` (a count of the rows the statement's own condition still selects), a range that
    leaves any behind is a ShortfallError: rolled back, never reported as written."""
    total = 0
    for low, high in key_ranges(conn, table, key, target.batch_size):
        def work(cursor: psycopg2.extensions.cursor, low: int = low, high: int = high) -> int:
            params = {"batch_id": batch_id, "low": low, "high": high}
            cursor.execute(statement, params)
            changed = max(cursor.rowcount, 0)
            if left_over is not None:
                cursor.execute(left_over, params)
                missed = int(cursor.fetchone()[0])
                if missed:
                    raise ShortfallError(
                        f"{step}: {missed} row(s) of key range ({low}, {high}] were selected for"
                        f" the write but not written (a row-level security policy or trigger"
                        f" filtered them); {changed} written, rolled back")
            cursor.execute(PROGRESS, (high, changed, batch_id, step))
            return changed

        total += in_transaction(target, conn, figures, f"{step} ({low}, {high}]", work)
    return total

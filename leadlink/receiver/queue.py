"""The Meta leadgen queue: claim due rows with a lease, then mark them done or due again later.

Claiming pushes `next_attempt_at` forward by the lease, so a worker that dies mid-fetch simply lets
the row fall due again; `for update skip locked` lets several workers (every `leadlink serve`
process and `leadlink run`) drain the same queue without stepping on each other.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg2 import sql

from loaders.http import backoff_delay
from loaders.settings import Settings


@dataclass(frozen=True)
class Claimed:
    leadgen_id: str
    attempts: int


def _queue(settings: Settings) -> sql.Composed:
    return sql.SQL("{}.meta_leadgen_queue").format(sql.Identifier(settings.raw_schema))


def claim_due(cursor: Any, settings: Settings, limit: int, lease_seconds: float) -> list[Claimed]:
    cursor.execute(
        sql.SQL(
            "update {queue} as queue set attempts = queue.attempts + 1,"
            " last_attempt_at = clock_timestamp(),"
            " next_attempt_at = clock_timestamp() + make_interval(secs => %s)"
            " where queue.leadgen_id in ("
            "   select due.leadgen_id from {queue} as due"
            "   where due.status = 'pending' and due.next_attempt_at <= clock_timestamp()"
            "   order by due.next_attempt_at limit %s for update skip locked)"
            " returning queue.leadgen_id, queue.attempts"
        ).format(queue=_queue(settings)),
        (lease_seconds, limit),
    )
    return [Claimed(row[0], int(row[1])) for row in cursor.fetchall()]


def mark_done(cursor: Any, settings: Settings, leadgen_id: str, batch_id: int) -> None:
    cursor.execute(
        sql.SQL(
            "update {} set status = 'done', done_at = clock_timestamp(), last_error = null,"
            " batch_id = %s where leadgen_id = %s"
        ).format(_queue(settings)),
        (batch_id, leadgen_id),
    )


def retry_delay(attempts: int, base: float, cap: float,
                rand: Callable[[], float] = random.random) -> float:
    """The project's backoff (loaders.http.backoff_delay) with half jitter: between half and all
    of min(cap, base * 2**(attempts-1)), so a failed row never falls due again at once."""
    return backoff_delay(attempts - 1, base, cap, rand, least_share=0.5)


def mark_retry(cursor: Any, settings: Settings, leadgen_id: str, delay_seconds: float,
               error: str) -> None:
    cursor.execute(
        sql.SQL(
            "update {} set next_attempt_at = clock_timestamp() + make_interval(secs => %s),"
            " last_error = %s where leadgen_id = %s"
        ).format(_queue(settings)),
        (delay_seconds, error[:2000], leadgen_id),
    )


def mark_failed(cursor: Any, settings: Settings, leadgen_id: str, error: str) -> None:
    """Give up on a lead Graph keeps refusing as final; the row stays for a person to look at
    (set status back to 'pending' to try again)."""
    cursor.execute(
        sql.SQL("update {} set status = 'failed', last_error = %s where leadgen_id = %s").format(
            _queue(settings)),
        (error[:2000], leadgen_id),
    )


def queue_counts(cursor: Any, settings: Settings) -> dict[str, int]:
    cursor.execute(
        sql.SQL("select status, count(*) from {} group by status").format(_queue(settings)))
    return {status: int(count) for status, count in cursor.fetchall()}

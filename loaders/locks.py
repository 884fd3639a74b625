"""Named locks that survive a transaction pooler: rows in `raw.locks` with a lease.

Each statement here is its own short transaction, so nothing depends on staying on one backend.
The holder renews the lease from a background thread while its work runs; if the process dies
(even `kill -9`), the lock is free once the lease has run out (`LEADLINK_LOCK_LEASE_SECONDS`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from psycopg2 import sql

from loaders.database import connection

log = logging.getLogger("leadlink.locks")

DEFAULT_LEASE_SECONDS = 60.0
WAIT_POLL_SECONDS = 1.0


class LockBusy(RuntimeError):
    """Another process holds the lock (and its lease has not run out)."""


class LockLost(RuntimeError):
    """The lease ran out before it could be renewed and another process took the lock."""


def _holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def try_acquire(url: str, raw_schema: str, name: str, holder: str, lease_seconds: float) -> str | None:
    """Take `name` for `holder` if it is free or its lease has run out. Returns None when taken,
    else the current holder."""
    query = sql.SQL(
        "insert into {schema}.locks as current (lock_name, holder, acquired_at, lease_until)"
        " values (%(name)s, %(holder)s, clock_timestamp(),"
        "         clock_timestamp() + make_interval(secs => %(lease)s))"
        " on conflict (lock_name) do update"
        "   set holder = excluded.holder, acquired_at = excluded.acquired_at,"
        "       lease_until = excluded.lease_until"
        "   where current.lease_until < clock_timestamp() or current.holder = excluded.holder"
        " returning holder"
    ).format(schema=sql.Identifier(raw_schema))
    with connection(url, "leadlink-lock") as conn, conn.cursor() as cursor:
        cursor.execute(query, {"name": name, "holder": holder, "lease": lease_seconds})
        if cursor.fetchone() is not None:
            return None
        cursor.execute(sql.SQL("select holder from {}.locks where lock_name = %s").format(
            sql.Identifier(raw_schema)), (name,))
        row = cursor.fetchone()
        return row[0] if row else "another process"


def renew(url: str, raw_schema: str, name: str, holder: str, lease_seconds: float) -> bool:
    query = sql.SQL(
        "update {}.locks set lease_until = clock_timestamp() + make_interval(secs => %s)"
        " where lock_name = %s and holder = %s"
    ).format(sql.Identifier(raw_schema))
    with connection(url, "leadlink-lock") as conn, conn.cursor() as cursor:
        cursor.execute(query, (lease_seconds, name, holder))
        return cursor.rowcount == 1


def release(url: str, raw_schema: str, name: str, holder: str) -> None:
    query = sql.SQL("delete from {}.locks where lock_name = %s and holder = %s").format(
        sql.Identifier(raw_schema))
    with connection(url, "leadlink-lock") as conn, conn.cursor() as cursor:
        cursor.execute(query, (name, holder))


class _Renewer(threading.Thread):
    """Renews the lease every third of it; remembers when renewal failed."""

    def __init__(self, url: str, raw_schema: str, name: str, holder: str, lease_seconds: float) -> None:
        super().__init__(name=f"lock-renewer-{name}", daemon=True)
        self.args = (url, raw_schema, name, holder, lease_seconds)
        self.stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        interval = self.args[4] / 3
        while not self.stopped.wait(interval):
            try:
                if not renew(*self.args):
                    self.lost = True
                    log.error("lock %s: the lease ran out and another process took it", self.args[2])
                    return
            except Exception as error:  # noqa: BLE001 - a database blip: the next renewal retries
                log.warning("lock %s: renewal failed (%s); retrying", self.args[2], type(error).__name__)


@contextmanager
def hold(url: str, raw_schema: str, name: str, *, wait: bool = False,
         lease_seconds: float = DEFAULT_LEASE_SECONDS, busy_message: str | None = None) -> Iterator[str]:
    """Hold lock `name` for the block. Raises LockBusy (unless `wait`: then polls until free).
    Raises LockLost after the block if the lease was lost while it ran."""
    holder = _holder_id()
    while True:
        current = try_acquire(url, raw_schema, name, holder, lease_seconds)
        if current is None:
            break
        if not wait:
            raise LockBusy(busy_message or f"another leadlink process ({current}) holds the {name} lock")
        time.sleep(WAIT_POLL_SECONDS)
    renewer = _Renewer(url, raw_schema, name, holder, lease_seconds)
    renewer.start()
    try:
        yield holder
    finally:
        renewer.stopped.set()
        renewer.join()
        try:
            release(url, raw_schema, name, holder)
        except Exception as error:  # noqa: BLE001 - the lease frees it anyway
            log.warning("lock %s: release failed (%s); it frees when its lease runs out",
                        name, type(error).__name__)
    if renewer.lost:
        raise LockLost(f"the {name} lock was lost while this process held it (lease ran out)")

"""A small blocking connection pool for the receiver's request path.

psycopg2's own pools raise when exhausted instead of waiting; this one waits up to a timeout, drops
connections that broke (a database restart) and reconnects lazily, so a database that went away
and came back needs no server restart.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import psycopg2.extensions

from loaders.database import connect

# Errors that mean "the connection or the server is gone", not "the statement was wrong".
CONNECTION_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)


class PoolTimeout(RuntimeError):
    """No connection became free in time."""


class ConnectionPool:
    def __init__(self, url: str, size: int, *, acquire_timeout: float = 2.0,
                 connect_timeout: int = 3, statement_timeout_ms: int = 5000,
                 application_name: str = "leadlink-webhooks") -> None:
        self.url = url
        self.size = size
        self.acquire_timeout = acquire_timeout
        # No startup `options`: PgBouncer (Supabase's pooler) refuses them. The timeouts are set
        # for each checkout's transaction instead (set_config(..., true) = set local), which also
        # holds when a transaction pooler hands every transaction another backend.
        self._connect_kwargs = {
            "connect_timeout": connect_timeout,
            "application_name": application_name,
        }
        self._timeouts = (f"{int(statement_timeout_ms)}ms", f"{int(statement_timeout_ms)}ms")
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[psycopg2.extensions.connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def _new_connection(self) -> psycopg2.extensions.connection:
        return connect(self.url, **self._connect_kwargs)

    def _begin(self, conn: psycopg2.extensions.connection) -> None:
        """Open the checkout's transaction with its timeouts (they end with it)."""
        with conn.cursor() as cursor:
            cursor.execute("select set_config('statement_timeout', %s, true),"
                           " set_config('lock_timeout', %s, true)", self._timeouts)

    def _take_idle(self) -> psycopg2.extensions.connection | None:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed:
                    return conn
        return None

    @contextmanager
    def connection(self, *, fresh: bool = False) -> Iterator[tuple[psycopg2.extensions.connection, bool]]:
        """Yield (connection, reused). The caller commits; anything left open is rolled back.
        A connection that raised a connection error is closed, not returned."""
        if self._closed:
            raise PoolTimeout("the pool is closed")
        if not self._slots.acquire(timeout=self.acquire_timeout):
            raise PoolTimeout(f"no database connection free within {self.acquire_timeout}s")
        conn = None
        healthy = False
        try:
            conn = None if fresh else self._take_idle()
            reused = conn is not None
            if conn is None:
                conn = self._new_connection()
            try:
                self._begin(conn)
            except CONNECTION_ERRORS:
                if not reused:
                    raise
                # an idle connection broken by a database restart: take a new one
                conn.close()
                conn = self._new_connection()
                reused = False
                self._begin(conn)
            yield conn, reused
            healthy = True
        except CONNECTION_ERRORS:
            raise
        except BaseException:
            healthy = True  # a statement failed; the connection itself may still be fine
            raise
        finally:
            if conn is not None:
                self._give_back(conn, healthy)
            self._slots.release()

    def _give_back(self, conn: psycopg2.extensions.connection, healthy: bool) -> None:
        if healthy and not conn.closed:
            try:
                if conn.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
                    conn.rollback()
            except CONNECTION_ERRORS:
                healthy = False
        if healthy and not conn.closed and not self._closed:
            with self._lock:
                self._idle.append(conn)
            return
        try:
            conn.close()
        except CONNECTION_ERRORS:
            pass

    def warm_up(self, statement: str | None = None) -> int:
        """Open up to `size` connections now (best effort) and run `statement` on each (to load
        the catalog entries the requests need), so the first requests after a start do not pay
        for connection set-up. Returns how many are open."""
        opened: list[psycopg2.extensions.connection] = []
        try:
            for _ in range(self.size):
                conn = self._new_connection()
                opened.append(conn)
                if statement:
                    with conn.cursor() as cursor:
                        cursor.execute(statement)
                    conn.rollback()
        except psycopg2.Error:  # includes CONNECTION_ERRORS
            pass
        with self._lock:
            self._idle.extend(opened)
        return len(opened)

    def close(self) -> None:
        self._closed = True
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            try:
                conn.close()
            except CONNECTION_ERRORS:
                pass

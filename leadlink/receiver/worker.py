"""The leadgen worker: fetch each queued lead from Graph (`GET /{leadgen_id}`) and land it in
`meta_leads` beside the pulled leads (landed_from 'webhook').

Runs inside every `leadlink serve` process (a background task woken by new notifications and by a
poll timer) and from `leadlink run` (`drain`). A failed fetch leaves the row pending with a later
`next_attempt_at` (exponential backoff with jitter, capped), so a Graph outage delays leads and
never loses them. Only an error Graph calls final, repeated `fail_after` times, parks a row as
'failed' (kept, with the error, for a person to re-queue).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import psycopg2
import psycopg2.extensions

from leadlink.receiver import queue as leadgen_queue
from leadlink.receiver.intake import LANDED_FROM
from loaders.database import connect
from loaders.landing import LandingBatch, land_chunk, landing_batch
from loaders.payload_checks import readable_text
from loaders.settings import Settings
from loaders.shapes import Record, Rejected, split_payload

log = logging.getLogger("leadlink.webhooks.worker")

LeadFetcher = Callable[[str], Mapping[str, Any]]
MAX_LEADGEN_ID_DIGITS = 32


@dataclass(frozen=True)
class WorkerConfig:
    batch_size: int = 20
    lease_seconds: float = 300.0
    retry_base_seconds: float = 30.0
    retry_cap_seconds: float = 3600.0
    fail_after: int = 5
    poll_seconds: float = 2.0

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerConfig:
        hooks = settings.webhooks
        return cls(batch_size=hooks.batch_size, lease_seconds=hooks.lease_seconds,
                   retry_base_seconds=hooks.retry_base_seconds,
                   retry_cap_seconds=hooks.retry_cap_seconds, fail_after=hooks.fail_after,
                   poll_seconds=hooks.poll_seconds)


@dataclass
class DrainCounts:
    claimed: int = 0
    landed: int = 0
    already_present: int = 0
    retried: int = 0
    failed: int = 0

    def add(self, other: DrainCounts) -> None:
        for name in ("claimed", "landed", "already_present", "retried", "failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def graph_fetcher(settings: Settings) -> LeadFetcher:
    """`GraphClient(...).get_lead` from the Meta loader, built from the settings."""
    from leadlink.receiver.graph import lead_fetcher

    return lead_fetcher(settings)


def _is_final(error: Exception) -> bool:
    from loaders.http import FatalHttpError

    return isinstance(error, FatalHttpError)


def _valid_leadgen_id(leadgen_id: str) -> bool:
    return leadgen_id.isascii() and leadgen_id.isdigit() and len(leadgen_id) <= MAX_LEADGEN_ID_DIGITS


def _give_up_or_retry(cursor: Any, settings: Settings, config: WorkerConfig, row: Any,
                      message: str, final: bool, counts: DrainCounts) -> None:
    if final and row.attempts >= config.fail_after:
        leadgen_queue.mark_failed(cursor, settings, row.leadgen_id, message)
        counts.failed += 1
        log.error("leadgen %s: giving up after %d attempts: %s", row.leadgen_id, row.attempts,
                  message)
        return
    delay = leadgen_queue.retry_delay(row.attempts, config.retry_base_seconds,
                                      config.retry_cap_seconds)
    leadgen_queue.mark_retry(cursor, settings, row.leadgen_id, delay, message)
    counts.retried += 1
    log.warning("leadgen %s: attempt %d failed (%s); next try in %.0fs", row.leadgen_id,
                row.attempts, message[:300], delay)


def _process_row(conn: psycopg2.extensions.connection, settings: Settings, fetch: LeadFetcher,
                 config: WorkerConfig, batch: LandingBatch, row: Any, counts: DrainCounts) -> None:
    """Fetch one lead and land it; the row is done only when the lead itself landed (or was
    already there). Anything else is retried and, after `fail_after` attempts, parked as failed
    with Graph's answer kept in last_error (and the answer in quarantine)."""
    if not _valid_leadgen_id(row.leadgen_id):
        with conn.cursor() as cursor:
            leadgen_queue.mark_failed(cursor, settings, row.leadgen_id,
                                      "leadgen_id is not all digits: never sent to Graph")
        conn.commit()
        counts.failed += 1
        return
    try:
        lead = fetch(row.leadgen_id)
    except Exception as error:  # noqa: BLE001 - every failure is retried or parked, never lost
        with conn.cursor() as cursor:
            _give_up_or_retry(cursor, settings, config, row, f"{type(error).__name__}: {error}",
                              _is_final(error), counts)
        conn.commit()
        return
    # only the lead asked for lands: another object in the answer is kept in quarantine
    items = [item if not isinstance(item, Record) or item.key == row.leadgen_id
             else Rejected(f"Graph answered lead {item.key[:40]} for leadgen {row.leadgen_id}",
                           readable_text(item.payload))
             for item in split_payload("meta", lead)]
    with conn.cursor() as cursor:
        result = land_chunk(cursor, settings, "meta", items, batch.batch_id, LANDED_FROM)
        is_the_lead = any(isinstance(item, Record) and item.key == row.leadgen_id
                          for item in items)
        if is_the_lead and result.quarantined == 0 and result.landed + result.already_present:
            leadgen_queue.mark_done(cursor, settings, row.leadgen_id, batch.batch_id)
        else:
            problem = next((item.reason for item in items if isinstance(item, Rejected)),
                           "the answer is not this lead")
            _give_up_or_retry(cursor, settings, config, row,
                              f"Graph answered without a usable lead ({problem}): "
                              f"{readable_text(lead)[:1500]}", True, counts)
    conn.commit()
    batch.counts.add(result)
    counts.landed += result.landed
    counts.already_present += result.already_present


def process_due(conn: psycopg2.extensions.connection, settings: Settings, fetch: LeadFetcher,
                config: WorkerConfig, url: str | None = None) -> DrainCounts:
    """One pass: claim up to batch_size due rows, fetch and land each, all in one load batch
    (which ends failed, with the error, if the pass breaks). Each lead lands and its row is
    marked done in one transaction."""
    counts = DrainCounts()
    with conn.cursor() as cursor:
        claimed = leadgen_queue.claim_due(cursor, settings, config.batch_size,
                                          config.lease_seconds)
    conn.commit()
    if not claimed:
        return counts
    counts.claimed = len(claimed)
    with landing_batch(conn, settings, "meta", "webhook",
                       {"leadgen_ids": [row.leadgen_id for row in claimed]}, url=url) as batch:
        for row in claimed:
            _process_row(conn, settings, fetch, config, batch, row, counts)
        batch.detail.update(counts.as_dict())
    return counts


def drain(settings: Settings, url: str, fetch: LeadFetcher | None = None,
          config: WorkerConfig | None = None, stop: threading.Event | None = None) -> DrainCounts:
    """Process every row that is due now (rows waiting out a backoff stay for later)."""
    config = config or WorkerConfig.from_settings(settings)
    fetch = fetch or graph_fetcher(settings)
    total = DrainCounts()
    conn = connect(url, "leadlink-leadgen-worker")
    try:
        while stop is None or not stop.is_set():
            counts = process_due(conn, settings, fetch, config, url)
            total.add(counts)
            if counts.claimed == 0:
                break
    finally:
        conn.close()
    return total


class BackgroundWorker:
    """The server's in-process worker: drains when woken (a new notification) or every
    poll_seconds; a database or Graph outage only makes it try again later."""

    def __init__(self, settings: Settings, url: str, fetch: LeadFetcher | None,
                 config: WorkerConfig) -> None:
        self.settings = settings
        self.url = url
        self.config = config
        self._fetch = fetch
        self._wake = asyncio.Event()
        self._stop = threading.Event()
        self._task: asyncio.Task | None = None
        self._warned = False

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                log.warning("leadgen worker still busy at shutdown; its claimed rows fall due "
                            "again after the lease")
                self._task.cancel()

    def _drain_once(self) -> DrainCounts:
        if self._fetch is None:
            if not self.settings.meta.page_access_token:
                if not self._warned:
                    log.warning("META_PAGE_ACCESS_TOKEN is not set: leadgen notifications are "
                                "stored and queued, and wait until it is")
                    self._warned = True
                return DrainCounts()
            self._fetch = graph_fetcher(self.settings)
        return drain(self.settings, self.url, self._fetch, self.config, self._stop)

    async def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                counts = await anyio.to_thread.run_sync(self._drain_once)
                if counts.claimed:
                    log.info("leadgen worker: %s", counts.as_dict())
            except psycopg2.Error as error:
                log.warning("leadgen worker: database unavailable (%s); will retry",
                            type(error).__name__)
            except Exception:  # noqa: BLE001 - keep the worker alive; the rows stay queued
                log.exception("leadgen worker pass failed; will retry")
            if self._stop.is_set():
                break
            try:
                await asyncio.wait_for(self._wake.wait(), self.config.poll_seconds)
            except TimeoutError:
                pass


def drain_for_run(settings: Settings, url: str) -> dict[str, Any]:
    """`leadlink run`'s share of the work: drain what is due, report what still waits.
    Never raises for a Graph outage (the rows stay queued); without a page token it only reports."""
    with connect(url, "leadlink-leadgen-worker") as conn:
        with conn.cursor() as cursor:
            before = leadgen_queue.queue_counts(cursor, settings)
        conn.rollback()
    conn.close()
    summary: dict[str, Any] = {"drained": 0, "retried": 0}
    if before.get("pending") and not settings.meta.page_access_token:
        summary["message"] = "META_PAGE_ACCESS_TOKEN is not set: queued leads wait"
    elif before.get("pending"):
        counts = drain(settings, url)
        summary.update(drained=counts.landed + counts.already_present, retried=counts.retried)
    with connect(url, "leadlink-leadgen-worker") as conn:
        with conn.cursor() as cursor:
            after = leadgen_queue.queue_counts(cursor, settings)
        conn.rollback()
    conn.close()
    summary.update(pending=after.get("pending", 0), failed=after.get("failed", 0))
    return summary

"""`leadlink run --every SECONDS`: the scheduled cycle forever, for a systemd service or a Kubernetes
Deployment beside `leadlink serve`.

- one summary line per cycle (the caller prints it);
- SIGTERM (or SIGINT) lets the cycle in flight finish, then the loop returns 0; a second one stops
  at once (the default action of the signal);
- a failing cycle is logged and the next one tries again after a back-off that grows with each
  failure in a row (never a busy loop, never a crash loop);
- a cycle that finds a lock held (a cron-started `leadlink run`, a second loop) is skipped.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from leadlink.pipeline.scheduled_run import EXIT_LOCKED, EXIT_OK, RunOptions, run_all
from loaders.settings import Settings

log = logging.getLogger("leadlink.run")

MAX_BACKOFF_SECONDS = 300.0
MIN_GAP_SECONDS = 1.0  # between cycles even when a cycle took longer than --every


def next_delay(every: float, elapsed: float, failures_in_a_row: int) -> float:
    """Seconds to sleep before the next cycle. Healthy: start-to-start `every`. Failing: `every`
    doubled per failure in a row, capped at max(every, MAX_BACKOFF_SECONDS)."""
    if failures_in_a_row == 0:
        return max(MIN_GAP_SECONDS, every - elapsed)
    backoff = every * 2 ** (failures_in_a_row - 1)
    return max(MIN_GAP_SECONDS, min(backoff, max(every, MAX_BACKOFF_SECONDS)))


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM / SIGINT set `stop`; a second one gets the signal's default action."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}

    def handler(number: int, _frame: object) -> None:
        if stop.is_set():
            signal.signal(number, signal.SIG_DFL)
            signal.raise_signal(number)
            return
        log.info("received %s: finishing the cycle in flight, then stopping",
                 signal.Signals(number).name)
        stop.set()

    for number in (signal.SIGTERM, signal.SIGINT):
        previous[number] = signal.signal(number, handler)
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def run_every(settings: Settings, prepare: Callable[[Settings], str], run_dbt: Callable[..., Any],
              options: RunOptions, every: float, emit: Callable[[dict[str, Any]], None],
              stop: threading.Event | None = None, max_cycles: int | None = None) -> int:
    """Run cycles until `stop` is set (by SIGTERM/SIGINT) or `max_cycles` ran. Returns 0."""
    stop = stop or threading.Event()
    # dbt is not handed the signal: the loop's contract is to finish the cycle in flight
    options = replace(options, forward_signals=())
    failures = 0
    cycle = 0
    with stop_on_signals(stop):
        while not stop.is_set():
            cycle += 1
            started = time.monotonic()
            try:
                summary = run_all(settings, prepare, run_dbt, options)
            except Exception as error:  # noqa: BLE001 - one bad cycle must not end the service
                log.exception("cycle %d failed unexpectedly", cycle)
                summary = {"status": "failed", "exit_code": 1, "sources": [], "skipped": [],
                           "webhook_queue": None, "dbt_build": "skipped", "publish": None,
                           "message": f"{type(error).__name__}: {str(error)[:300]}"}
            elapsed = time.monotonic() - started
            summary["cycle"] = cycle
            summary["seconds"] = round(elapsed, 1)
            code = summary["exit_code"]
            failures = 0 if code in (EXIT_OK, EXIT_LOCKED) else failures + 1
            if code == EXIT_LOCKED:
                log.info("cycle %d: a lock was held by another leadlink process; skipped", cycle)
            delay = next_delay(every, elapsed, failures)
            if failures:
                log.warning("cycle %d failed (exit %d, %d in a row); next cycle in %.0f s",
                            cycle, code, failures, delay)
            summary["next_in_seconds"] = round(delay, 1)
            emit(summary)
            if max_cycles is not None and cycle >= max_cycles:
                break
            stop.wait(delay)
    log.info("stopped after %d cycle(s)", cycle)
    return EXIT_OK

"""The scheduled job behind `leadlink run`, and how a source's load becomes a status and an exit code.

Exit status (cron, systemd timers and Kubernetes CronJobs read it):
  0  everything configured was loaded (and dbt build passed)
  1  a load or dbt build failed (retries exhausted, a fatal HTTP answer, a dbt error)
  3  configuration or credentials: a missing env var, or the API refused them (the message names
     the env var to fix); also `leadlink run` with nothing configured (no pull source, no webhook)
  75 another run holds a source's lock (EX_TEMPFAIL: try again later; `--wait` queues instead)
Malformed pages or records do not fail a run: they are quarantined and reported.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loaders.http import AuthError, HttpError
from loaders.settings import Settings
from loaders.state import ConfigError, LoadResult, LockBusy

log = logging.getLogger("leadlink.run")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 3
EXIT_LOCKED = 75
SEVERITY = {EXIT_OK: 0, EXIT_FAILED: 2, EXIT_LOCKED: 1, EXIT_CONFIG: 3}

WEBHOOK_ENV = ("META_APP_SECRET", "KNOWLARITY_WEBHOOK_TOKEN")
SOURCE_ENV = {
    "knowlarity": ("KNOWLARITY_API_KEY", "KNOWLARITY_AUTH_TOKEN"),
    "meta": ("META_PAGE_ID", "META_PAGE_ACCESS_TOKEN"),
}


@dataclass
class SourceOutcome:
    source: str
    status: str  # ok | skipped | failed | auth | locked
    exit_code: int
    message: str = ""
    result: LoadResult | None = None

    def as_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"source": self.source, "status": self.status}
        if self.message:
            entry["message"] = self.message
        if self.result is not None:
            entry.update({k: v for k, v in self.result.as_dict().items() if k != "source"})
        return entry


def worst(codes: list[int]) -> int:
    return max(codes, key=lambda code: SEVERITY.get(code, 2), default=EXIT_OK)


def run_source(source: str, load: Callable[[], LoadResult]) -> SourceOutcome:
    """Run one source's load and turn its outcome into a status and an exit code."""
    try:
        result = load()
    except LockBusy as error:
        return SourceOutcome(source, "locked", EXIT_LOCKED, str(error))
    except (ConfigError, AuthError) as error:
        return SourceOutcome(source, "auth" if isinstance(error, AuthError) else "config",
                             EXIT_CONFIG, str(error))
    except HttpError as error:
        return SourceOutcome(source, "failed", EXIT_FAILED, str(error))
    if not result.ok:
        failed = "; ".join(f"{scope}: {message}" for scope, message in result.failed_scopes.items())
        return SourceOutcome(source, "failed", EXIT_FAILED, failed, result)
    return SourceOutcome(source, "ok", EXIT_OK, "", result)


def loader_for(source: str, settings: Settings, url: str, since: datetime | None,
               until: datetime | None, wait: bool,
               forms: tuple[str, ...] = ()) -> Callable[[], LoadResult]:
    if source == "knowlarity":
        from loaders.knowlarity.loader import load_knowlarity

        return lambda: load_knowlarity(settings, url, since, until, wait)
    from loaders.meta.loader import load_meta

    return lambda: load_meta(settings, url, since, until, forms, wait)


def configured(settings: Settings, source: str) -> list[str]:
    """The env vars still missing for `source` (empty: configured)."""
    return [name for name in SOURCE_ENV[source] if not settings.environ.get(name)]


def drain_queues(settings: Settings, url: str) -> dict[str, Any] | None:
    """Hook for the webhook receiver (issue 7): drain the Meta leadgen queue (fetch each queued
    lead from Graph and land it). Return a small dict for the summary, e.g.
    {"drained": 3, "pending": 0, "failed": 0}, or None when there is no queue to drain.
    It must not raise for a Graph outage (leads wait in the queue); raise only for real bugs."""
    from leadlink.receiver.worker import drain_for_run

    return drain_for_run(settings, url)


def run_all(settings: Settings, prepare: Callable[[Settings], str], run_dbt: Callable[..., Any],
            wait: bool = False, skip_dbt: bool = False) -> dict[str, Any]:
    url = prepare(settings)
    outcomes: list[SourceOutcome] = []
    for source in SOURCE_ENV:
        missing = configured(settings, source)
        if missing:
            outcomes.append(SourceOutcome(source, "skipped", EXIT_OK,
                                          f"not configured ({', '.join(missing)} unset)"))
            continue
        outcome = run_source(source, loader_for(source, settings, url, None, None, wait))
        if outcome.message and outcome.status != "ok":
            log.error("%s: %s", source, outcome.message)
        outcomes.append(outcome)
    codes = [outcome.exit_code for outcome in outcomes]
    queues = drain_queues(settings, url)
    dbt_status = "skipped"
    if not skip_dbt:
        completed = run_dbt(settings, url, ["build"], capture=True)
        for stream in (completed.stdout, completed.stderr):
            if stream:
                sys.stderr.write(stream)
        dbt_status = "ok" if completed.returncode == 0 else f"failed (exit {completed.returncode})"
        if completed.returncode != 0:
            codes.append(EXIT_FAILED)
    loaded = [outcome for outcome in outcomes if outcome.status != "skipped"]
    webhooks = [name for name in WEBHOOK_ENV if settings.environ.get(name)]
    if not loaded and not webhooks:
        codes.append(EXIT_CONFIG)  # nothing configured at all: a deployment mistake, say so
    exit_code = worst(codes)
    return {
        "status": "ok" if exit_code == EXIT_OK else "failed",
        "exit_code": exit_code,
        "sources": [outcome.as_dict() for outcome in outcomes],
        "skipped": [outcome.source for outcome in outcomes if outcome.status == "skipped"],
        "webhook_queue": queues,
        "dbt_build": dbt_status,
    }


def summary_line(summary: dict[str, Any]) -> str:
    parts = [f"leadlink run: {summary['status']} (exit {summary['exit_code']})"]
    for entry in summary["sources"]:
        if entry["status"] == "skipped":
            continue
        if "landed" in entry:
            text = (f"{entry['source']} {entry['status']}: landed {entry['landed']}, "
                    f"already present {entry['already_present']}, "
                    f"quarantined {entry['quarantined']}")
        else:
            text = f"{entry['source']} {entry['status']}"
        if entry["status"] != "ok" and entry.get("message"):
            text += f" ({entry['message'][:200]})"
        parts.append(text)
    if summary["skipped"]:
        parts.append("skipped " + ", ".join(summary["skipped"]) + " (not configured)")
    if summary["exit_code"] == EXIT_CONFIG and len(summary["skipped"]) == len(SOURCE_ENV):
        parts.append("nothing configured: set " + ", ".join(
            name for names in SOURCE_ENV.values() for name in names))
    if summary["webhook_queue"]:
        parts.append("webhook queue " + ", ".join(f"{k} {v}" for k, v in
                                                   summary["webhook_queue"].items()))
    parts.append(f"dbt build {summary['dbt_build']}")
    if "seconds" in summary:
        parts.append(f"{summary['seconds']}s")
    return "; ".join(parts)

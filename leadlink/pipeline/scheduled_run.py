"""The scheduled job behind `leadlink run`, and how a source's load becomes a status and an exit code.

Exit status (cron, systemd timers and Kubernetes CronJobs read it):
  0  everything configured was loaded (and dbt build passed, and with --publish the publish)
  1  a load, dbt build or publish failed (retries exhausted, a fatal HTTP answer, a dbt error)
  3  configuration or credentials: a missing env var, or the API refused them (the message names
     the env var to fix); also `leadlink run` with nothing configured (no pull source, no webhook)
  75 another run holds a lock: a source's, the build's or publish's (EX_TEMPFAIL: try again
     later; `--wait` queues instead)
Malformed pages or records do not fail a run: they are quarantined and reported.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg2

from leadlink.pipeline import nothing_new
from leadlink.pipeline.publish_step import publish_changes
from leadlink.runtime.dbt_runner import DEFAULT_FORWARD
from loaders.database import database_message, error_line
from loaders.http import AuthError, HttpError
from loaders.settings import Settings
from loaders.sources import SPECS
from loaders.state import ConfigError, LoadResult, LockBusy, LockLost, held

log = logging.getLogger("leadlink.run")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 3
EXIT_LOCKED = 75
SEVERITY = {EXIT_OK: 0, EXIT_FAILED: 2, EXIT_LOCKED: 1, EXIT_CONFIG: 3}

# the env vars each pull needs, from the one list of sources
SOURCE_ENV = {source.name: source.pull_settings for source in SPECS.values()}


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
    except LockLost as error:
        return SourceOutcome(source, "failed", EXIT_FAILED, str(error))
    except (ConfigError, AuthError) as error:
        return SourceOutcome(source, "auth" if isinstance(error, AuthError) else "config",
                             EXIT_CONFIG, str(error))
    except HttpError as error:
        return SourceOutcome(source, "failed", EXIT_FAILED, str(error))
    except psycopg2.Error as error:  # the database went away mid-load: this run's failure, in one line
        return SourceOutcome(source, "failed", EXIT_FAILED, f"database: {database_message(error)}")
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
    return settings.missing_credentials(source)


def drain_queues(settings: Settings, url: str) -> dict[str, Any] | None:
    """Drain the Meta leadgen webhook queue (fetch each queued lead from Graph and land it); a
    small dict for the summary ({"drained": 3, "pending": 0, "failed": 0}). A Graph outage does
    not raise (the leads wait in the queue)."""
    from leadlink.receiver.worker import drain_for_run

    return drain_for_run(settings, url)


@dataclass(frozen=True)
class RunOptions:
    wait: bool = False  # queue behind a held lock instead of reporting 75
    skip_dbt: bool = False
    publish: bool = False
    always_build: bool = False  # build (and publish) even when nothing is new since the last cycle
    log_format: str = "text"  # "json": dbt's own events as JSON lines on stderr too
    # signals that reach dbt while it runs (the --every loop keeps SIGTERM for itself)
    forward_signals: Sequence[int] = field(default=DEFAULT_FORWARD)


BUILD_LOCK = "build"
DBT_ARGS_ENV = "LEADLINK_RUN_DBT_ARGS"  # extra `dbt build` arguments, e.g. "--exclude tag:nightly"


# What a live build leaves out: nodes whose result cannot change while the project does not
# (the seeds' tables, the unit tests, the static tests tagged `static`). A build that runs them
# comes first whenever the project changed (see live_build_allowed); CI and full builds run all.
LIVE_EXCLUDE = ("resource_type:seed", "resource_type:unit_test", "tag:static")
# arguments of the user's that choose the nodes themselves: then their choice stands
SELECTION_ARGS = ("--select", "-s", "--exclude", "--selector", "--models", "-m", "--full-refresh",
                  "--resource-type", "--resource-types", "--exclude-resource-type",
                  "--exclude-resource-types")


def build_args(settings: Settings, live: bool = False) -> list[str]:
    """`dbt build` and DBT_ARGS_ENV (split and checked by Settings); with `live`, less the nodes
    of LIVE_EXCLUDE."""
    extra = list(settings.run_dbt_args)
    return ["build", "--exclude", *LIVE_EXCLUDE, *extra] if live else ["build", *extra]


def chooses_nodes(settings: Settings) -> bool:
    """Do DBT_ARGS_ENV choose the nodes themselves? Then their choice stands, never narrowed."""
    return any(arg.split("=")[0] in SELECTION_ARGS for arg in settings.run_dbt_args)


def live_build_allowed(settings: Settings, now: nothing_new.Fingerprint | None,
                       built: nothing_new.Fingerprint | None) -> bool:
    """A live build is enough when a build of this very project passed here (`built`) and nobody
    has rebuilt or dropped a relation since: the seeds' tables and the static results stand."""
    return (not chooses_nodes(settings) and now is not None and built is not None
            and (built.project, built.outputs) == (now.project, now.outputs))


def build(settings: Settings, url: str, run_dbt: Callable[..., Any], options: RunOptions,
          live: bool = False) -> tuple[str, int]:
    """`dbt build` under the build lock (two builds at once collide on dbt's backup relations).
    Returns (status for the summary, exit code)."""
    arguments = build_args(settings, live)
    try:
        with held(settings, url, BUILD_LOCK, options.wait,
                  "another leadlink run is building (it holds the build lock); this build is "
                  "skipped (use --wait to queue behind it)"):
            completed = run_dbt(settings, url, arguments, stream=sys.stderr,
                                log_format=options.log_format, forward_signals=options.forward_signals)
    except LockBusy as error:
        log.warning("%s", error)
        return "locked (another run is building)", EXIT_LOCKED
    except LockLost as error:
        log.error("%s", error)
        return "failed (build lock lost)", EXIT_FAILED
    signalled = getattr(completed, "signalled", None)
    if signalled:
        return f"interrupted (signal {signalled})", EXIT_FAILED
    if completed.returncode != 0:
        return f"failed (exit {completed.returncode})", EXIT_FAILED
    return "ok", EXIT_OK


def build_and_record(settings: Settings, url: str, run_dbt: Callable[..., Any], options: RunOptions,
                     before: nothing_new.Fingerprint | None,
                     built: nothing_new.Fingerprint | None) -> tuple[str, int, str]:
    """The build (live when allowed), with the stages' records dropped before it touches a model
    and `built` recorded after it passed. Returns (status, exit code, "live" or "full")."""
    live = live_build_allowed(settings, before, built)
    try:
        nothing_new.forget(settings, url, (nothing_new.BUILT, nothing_new.PUBLISHED))
    except psycopg2.Error as error:
        log.error("before the build: %s", database_message(error))
        return "failed (database unreachable before the build)", EXIT_FAILED, "full"
    status, code = build(settings, url, run_dbt, options, live)
    if code == EXIT_OK and before is not None:
        remember(settings, url, nothing_new.BUILT, before)
    return status, code, "live" if live else "full"


def remember(settings: Settings, url: str, stage: str, before: nothing_new.Fingerprint) -> None:
    """Record a stage that succeeded. Failing to is logged, not the cycle's failure: the next
    cycle then builds again, which is correct, only slower."""
    try:
        nothing_new.record(settings, url, stage, before)
    except psycopg2.Error as error:
        log.warning("could not record the %s fingerprint (the next cycle builds again): %s",
                    stage, database_message(error))


def run_cycle(settings: Settings, url: str, run_dbt: Callable[..., Any], options: RunOptions,
              publish: Callable[..., dict[str, Any]] = publish_changes) -> dict[str, Any]:
    """Loads, the leadgen queue, dbt build, and with `options.publish` the publish: one cycle."""
    timings: dict[str, float] = {}
    phase_started = time.monotonic()
    outcomes: list[SourceOutcome] = []
    for source in SOURCE_ENV:
        missing = configured(settings, source)
        if missing:
            outcomes.append(SourceOutcome(source, "skipped", EXIT_OK,
                                          f"not configured ({', '.join(missing)} unset)"))
            continue
        outcome = run_source(source, loader_for(source, settings, url, None, None, options.wait))
        if outcome.message and outcome.status != "ok":
            log.error("%s: %s", source, outcome.message)
        outcomes.append(outcome)
    codes = [outcome.exit_code for outcome in outcomes]
    timings["loads"] = round(time.monotonic() - phase_started, 2)
    phase_started = time.monotonic()
    queues = drain_queues(settings, url)
    timings["webhook_queue"] = round(time.monotonic() - phase_started, 2)
    dbt_status, dbt_code = "skipped", EXIT_OK
    published: dict[str, Any] | None = None
    before: nothing_new.Fingerprint | None = None
    recorded: dict[str, nothing_new.Fingerprint] = {}
    nothing_to_do = False
    build_scope: str | None = None  # "live": without the seeds, unit tests and static tests
    if not options.skip_dbt:
        phase_started = time.monotonic()
        before, recorded = nothing_new.look(settings, url, build_args(settings))
        stage = nothing_new.PUBLISHED if options.publish else nothing_new.BUILT
        nothing_to_do = (not options.always_build and before is not None
                         and recorded.get(stage) == before)
        timings["fingerprint"] = round(time.monotonic() - phase_started, 2)
    if nothing_to_do:
        dbt_status = "skipped (nothing new)"
        if options.publish:
            published = {"status": "skipped", "message": "nothing new since the last publish",
                         "rows": {}}
    elif not options.skip_dbt:
        phase_started = time.monotonic()
        dbt_status, dbt_code, build_scope = build_and_record(settings, url, run_dbt, options, before,
                                                                recorded.get(nothing_new.BUILT))
        timings["dbt_build"] = round(time.monotonic() - phase_started, 2)
        codes.append(dbt_code)
    if options.publish and not nothing_to_do:
        if dbt_code != EXIT_OK:
            # marts that failed to build (or are being rebuilt by another run) are not published
            published = {"status": "skipped", "message": f"dbt build {dbt_status}"}
        else:
            phase_started = time.monotonic()
            published = publish(settings, url, options.wait)
            timings["publish"] = round(time.monotonic() - phase_started, 2)
            codes.append(published.pop("exit_code"))
            if published["status"] == "ok" and before is not None:
                remember(settings, url, nothing_new.PUBLISHED, before)
    loaded = [outcome for outcome in outcomes if outcome.status != "skipped"]
    webhooks = settings.webhooks_configured
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
        "build_scope": build_scope,
        "publish": published,
        "phase_seconds": timings,
    }


def failed_summary(exit_code: int, message: str) -> dict[str, Any]:
    """The summary of a run that stopped before its cycle (configuration, database unreachable)."""
    return {"status": "failed", "exit_code": exit_code, "message": message, "sources": [],
            "skipped": [], "webhook_queue": None, "dbt_build": "skipped", "build_scope": None,
            "publish": None}


def run_all(settings: Settings, prepare: Callable[[Settings], str], run_dbt: Callable[..., Any],
            options: RunOptions | None = None,
            publish: Callable[..., dict[str, Any]] = publish_changes) -> dict[str, Any]:
    """Resolve and migrate the database, then one cycle. Never raises for configuration or an
    unreachable database: those are a summary with exit 3 / 1, so `--json` always prints one."""
    try:
        url = prepare(settings)
    except ConfigError as error:
        return failed_summary(EXIT_CONFIG, str(error))
    except (psycopg2.Error, RuntimeError, OSError) as error:  # unreachable, or no embedded server
        return failed_summary(EXIT_FAILED, f"database: {error_line(error)}")
    try:
        return run_cycle(settings, url, run_dbt, options or RunOptions(), publish)
    except ConfigError as error:
        return failed_summary(EXIT_CONFIG, str(error))
    except psycopg2.Error as error:  # the database went away between phases (restart, cut connection)
        message = f"database: {database_message(error)} (the cycle stopped; the next run retries)"
        log.error("%s", message)
        return failed_summary(EXIT_FAILED, message)


def summary_line(summary: dict[str, Any], command: str = "leadlink run") -> str:
    parts = [f"{command}: {summary['status']} (exit {summary['exit_code']})"]
    if summary.get("message"):
        parts.append(summary["message"][:300])
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
    scope = " (live)" if summary.get("build_scope") == "live" else ""
    parts.append(f"dbt build {summary['dbt_build']}{scope}")
    if summary.get("publish"):
        parts.append(publish_text(summary["publish"]))
    if "seconds" in summary:
        phases = summary.get("phase_seconds") or {}
        spent = ", ".join(f"{name.replace('_', ' ')} {phases[name]}s"
                          for name in ("fingerprint", "dbt_build", "publish") if name in phases)
        parts.append(f"{summary['seconds']}s" + (f" ({spent})" if spent else ""))
    return "; ".join(parts)


def publish_text(published: dict[str, Any]) -> str:
    if published["status"] != "ok":
        return f"publish {published['status']} ({str(published.get('message', ''))[:200]})"
    written = {name: count for name, count in (published.get("rows") or {}).items() if count}
    counts = ", ".join(f"{name} {count}" for name, count in written.items()) or "nothing new"
    return f"publish ok: batch {published.get('batch_id')}, {counts}"

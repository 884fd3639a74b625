"""`leadlink run`: the scheduled job (logic in leadlink.pipeline.scheduled_run and .live)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from leadlink.cli.context import settings_of
from leadlink.pipeline.live import run_every
from leadlink.pipeline.scheduled_run import EXIT_LOCKED, RunOptions, run_all, summary_line
from leadlink.runtime.database import prepare
from leadlink.runtime.dbt_runner import run_dbt


@click.command("run")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--wait", is_flag=True,
              help=f"Wait for a run that holds a lock (a source's, the build's, publish's) instead of "
                   f"exiting {EXIT_LOCKED}.")
@click.option("--skip-dbt", is_flag=True, help="Load only; do not run `dbt build`.")
@click.option("--publish", "publish", is_flag=True,
              help="After the build, publish what changed to the CRM (`leadlink publish --apply`).")
@click.option("--every", type=click.FloatRange(min=1.0), metavar="SECONDS",
              help="Run the cycle forever, one every SECONDS (a service beside `leadlink serve`);"
                   " SIGTERM finishes the cycle in flight and exits 0.")
@click.option("--always-build", is_flag=True,
              help="Build (and publish) even when nothing is new since the last successful cycle.")
@click.pass_context
def run_command(ctx: click.Context, as_json: bool, wait: bool, skip_dbt: bool, publish: bool,
                every: float | None, always_build: bool) -> None:
    """The scheduled job: load every configured source, drain the webhook queue, `dbt build`,
    and with --publish publish the changes to the CRM.

    A cycle with nothing new (no record landed, no CRM row changed, the dbt project and its
    relations as the last successful cycle left them) skips the build and the publish; a build
    of an unchanged project leaves out the seeds, unit tests and static tests (a "live" build).

    A source is configured when its env vars are set (Knowlarity: KNOWLARITY_API_KEY and
    KNOWLARITY_AUTH_TOKEN; Meta: META_PAGE_ID and META_PAGE_ACCESS_TOKEN); others are skipped
    and named. Prints one summary line on stdout per run (dbt's output streams to stderr). Exit
    status: 0 ok, 1 a load, dbt or publish failed, 3 configuration/credentials (or nothing
    configured), 75 another run holds a lock.
    """
    settings = settings_of(ctx)
    log_format = ctx.find_root().params.get("log_format") or "text"
    options = RunOptions(wait=wait, skip_dbt=skip_dbt, publish=publish, always_build=always_build,
                         log_format=log_format)

    def emit(summary: dict[str, Any]) -> None:
        click.echo(json.dumps(summary, sort_keys=True, default=str) if as_json else summary_line(summary))
        sys.stdout.flush()

    if every is not None:
        sys.exit(run_every(settings, prepare, run_dbt, options, every, emit))
    started = time.monotonic()
    summary = run_all(settings, prepare, run_dbt, options)
    summary["seconds"] = round(time.monotonic() - started, 1)
    emit(summary)
    sys.exit(summary["exit_code"])

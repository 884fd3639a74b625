"""`leadlink run`: the scheduled job (logic in leadlink.pipeline.scheduled_run)."""

from __future__ import annotations

import json
import sys
import time

import click

from leadlink.cli.context import settings_of
from leadlink.pipeline.scheduled_run import EXIT_LOCKED, run_all, summary_line
from leadlink.runtime.database import prepare
from leadlink.runtime.dbt_runner import run_dbt


@click.command("run")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--wait", is_flag=True,
              help=f"Wait for a run that holds a source's lock instead of exiting {EXIT_LOCKED}.")
@click.option("--skip-dbt", is_flag=True, help="Load only; do not run `dbt build`.")
@click.pass_context
def run_command(ctx: click.Context, as_json: bool, wait: bool, skip_dbt: bool) -> None:
    """The scheduled job: load every configured source, drain the webhook queue, `dbt build`.

    A source is configured when its env vars are set (Knowlarity: KNOWLARITY_API_KEY and
    KNOWLARITY_AUTH_TOKEN; Meta: META_PAGE_ID and META_PAGE_ACCESS_TOKEN); others are skipped
    and named. Prints one summary line on stdout (dbt's output goes to stderr). Exit status: 0 ok,
    1 a load or dbt failed, 3 configuration/credentials (or nothing configured), 75 another run
    holds a lock.
    """
    settings = settings_of(ctx)
    started = time.monotonic()
    summary = run_all(settings, prepare, run_dbt, wait=wait, skip_dbt=skip_dbt)
    summary["seconds"] = round(time.monotonic() - started, 1)
    if as_json:
        click.echo(json.dumps(summary, sort_keys=True))
    else:
        click.echo(summary_line(summary))
    sys.exit(summary["exit_code"])

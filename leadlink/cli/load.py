"""`leadlink load file|legacy|knowlarity|meta`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import click

from leadlink.cli.context import settings_of
from leadlink.pipeline.scheduled_run import EXIT_LOCKED, SourceOutcome, loader_for, run_source
from leadlink.runtime.database import prepare
from loaders.sources import SOURCES
from loaders.state import parse_time


@click.group()
def load() -> None:
    """Land records into the raw tables (idempotent: re-loading lands nothing new)."""


@load.command("file")
@click.option("--source", type=click.Choice(SOURCES), required=True,
              help="Which vendor's shapes the files hold.")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def load_file(ctx: click.Context, source: str, paths: tuple[Path, ...]) -> None:
    """Land JSON or JSON Lines files as the APIs and webhooks deliver them.

    Knowlarity: call-log pages (meta + objects), webhook bodies (wrapped event/data/timestamp or
    flat), SR hook CDRs, live-stream events. Meta: leads pages (data + paging) and single Graph
    lead objects. Anything unrecognised is quarantined with the reason; the rest lands.
    """
    from loaders.file_loader import load_files

    settings = settings_of(ctx)
    url = prepare(settings)
    results = load_files(settings, url, source, list(paths))
    for result in results:
        counts = result.counts
        click.echo(f"{result.path}: landed {counts.landed}, already present "
                   f"{counts.already_present}, quarantined {counts.quarantined}")
    if len(results) > 1:
        landed = sum(result.counts.landed for result in results)
        present = sum(result.counts.already_present for result in results)
        quarantined = sum(result.counts.quarantined for result in results)
        click.echo(f"total: landed {landed}, already present {present}, quarantined {quarantined}")


@load.command("legacy")
@click.option("--leads", "leads_path", required=True, type=click.Path(path_type=Path),
              help="leads_master export (CSV with header).")
@click.option("--customers", "customers_path", type=click.Path(path_type=Path),
              help="customers export.")
@click.option("--sources", "sources_path", type=click.Path(path_type=Path), help="sources export.")
@click.option("--history", "history_path", type=click.Path(path_type=Path),
              help="lead_sources_history export.")
@click.pass_context
def load_legacy_command(ctx: click.Context, leads_path: Path, customers_path: Path | None,
                        sources_path: Path | None, history_path: Path | None) -> None:
    """Load an export of the CRM's tables into LEADLINK_CRM_SCHEMA (default `crm`).

    CSV with a header, empty string = NULL, unknown columns ignored. Bad rows go to quarantine
    with the reason. A new export replaces the previous one.
    """
    from loaders.legacy import LegacyLoadError, load_legacy

    settings = settings_of(ctx)
    files = {"leads_master": leads_path}
    for table, path in (("customers", customers_path), ("sources", sources_path),
                        ("lead_sources_history", history_path)):
        if path is not None:
            files[table] = path
    try:
        results = load_legacy(settings, prepare(settings), files)
    except LegacyLoadError as error:
        raise click.ClickException(str(error)) from error
    for result in results:
        click.echo(f"{settings.crm_schema}.{result.table} from {result.path}: landed "
                   f"{result.counts.landed}, quarantined {result.counts.quarantined}")


def _time(_: click.Context, __: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


time_options = [
    click.option("--since", callback=_time, metavar="T",
                 help="Start of the window (ISO 8601, offset optional: UTC when absent; or unix "
                      "seconds). Default: the saved cursor minus LEADLINK_LOOKBACK_MINUTES."),
    click.option("--until", callback=_time, metavar="T", help="End of the window. Default: now."),
    click.option("--wait", is_flag=True,
                 help="If another run of this source holds its lock, wait for it instead of "
                      f"exiting with status {EXIT_LOCKED}."),
]


def with_time_options(function: Callable) -> Callable:
    for option in reversed(time_options):
        function = option(function)
    return function


def finish_load_command(outcome: SourceOutcome) -> None:
    """Print the outcome of `leadlink load <source>` and exit with its status."""
    if outcome.result is not None:
        click.echo(outcome.result.line())
    if outcome.message:
        click.echo(f"leadlink load {outcome.source}: {outcome.status}: {outcome.message}", err=True)
    sys.exit(outcome.exit_code)


@load.command("knowlarity")
@with_time_options
@click.pass_context
def load_knowlarity_command(ctx: click.Context, since: datetime | None, until: datetime | None,
                            wait: bool) -> None:
    """Pull the Knowlarity call log into raw.knowlarity_calls.

    GET {KNOWLARITY_BASE_URL}/{KNOWLARITY_CHANNEL}/v1/account/calllog with KNOWLARITY_API_KEY
    (x-api-key) and KNOWLARITY_AUTH_TOKEN (authorization); window split into chunks of
    LEADLINK_KNOWLARITY_CHUNK_HOURS (24), pages of LEADLINK_KNOWLARITY_PAGE_SIZE (500). Exit
    status: 0 ok, 1 failed, 3 configuration/credentials, 75 another run holds the lock.
    """
    settings = settings_of(ctx)
    url = prepare(settings)
    finish_load_command(run_source("knowlarity", loader_for("knowlarity", settings, url, since,
                                                            until, wait)))


@load.command("meta")
@with_time_options
@click.option("--form", "forms", multiple=True, metavar="ID",
              help="Only this lead form (repeatable). Default: every form of META_PAGE_ID, "
                   "whatever its status.")
@click.pass_context
def load_meta_command(ctx: click.Context, since: datetime | None, until: datetime | None,
                      wait: bool, forms: tuple[str, ...]) -> None:
    """Pull Meta Lead Ads leads into raw.meta_leads.

    {META_GRAPH_URL}/{META_API_VERSION}/{META_PAGE_ID}/leadgen_forms, then each form's leads
    filtered on time_created, following paging.next. Token: META_PAGE_ACCESS_TOKEN (sent in a
    header, never printed). Exit status: 0 ok, 1 failed, 3 configuration/credentials, 75 another
    run holds the lock.
    """
    settings = settings_of(ctx)
    url = prepare(settings)
    finish_load_command(run_source("meta", loader_for("meta", settings, url, since, until, wait,
                                                      forms)))

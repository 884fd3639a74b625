"""`leadlink load meta` (registered in loaders/cli.py)."""

from __future__ import annotations

from datetime import datetime

import click

from loaders.scheduled_run import finish_load_command, loader_for, run_source, with_time_options


@click.command("meta")
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
    from loaders.database import prepare

    settings = ctx.find_root().obj["settings"]
    url = prepare(settings)
    finish_load_command(run_source("meta", loader_for("meta", settings, url, since, until, wait,
                                                      forms)))

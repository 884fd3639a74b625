"""`leadlink load knowlarity` (registered in loaders/cli.py)."""

from __future__ import annotations

from datetime import datetime

import click

from loaders.scheduled_run import finish_load_command, loader_for, run_source, with_time_options


@click.command("knowlarity")
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
    from loaders.database import prepare

    settings = ctx.find_root().obj["settings"]
    url = prepare(settings)
    finish_load_command(run_source("knowlarity", loader_for("knowlarity", settings, url, since,
                                                            until, wait)))

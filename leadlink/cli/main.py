"""The `leadlink` command line. Commands are thin: they read options and call plain functions."""

from __future__ import annotations

import click

from leadlink.cli.db import db, migrate_command
from leadlink.cli.dbt import dbt, exec_command
from leadlink.cli.demo import demo
from leadlink.cli.identity import lookup_command, readiness_command
from leadlink.cli.load import load
from leadlink.cli.phone import phone
from leadlink.cli.publish import publish
from leadlink.cli.run import run_command
from leadlink.cli.serve import serve
from loaders.logging_utils import configure_logging
from loaders.settings import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              envvar="LEADLINK_LOG_FORMAT", show_default=True,
              help="Log lines as text or as JSON objects (env LEADLINK_LOG_FORMAT).")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def cli(ctx: click.Context, log_format: str, verbose: bool) -> None:
    """leadlink: land Knowlarity and Meta Lead Ads records and build clean customers and leads.

    The database is LEADLINK_DATABASE_URL when set, else an embedded PostgreSQL under
    .leadlink/pgdata started on demand.
    """
    configure_logging(log_format, verbose)
    ctx.ensure_object(dict)
    ctx.obj["settings"] = Settings.from_environ()


for command in (db, migrate_command, dbt, exec_command, load, lookup_command, readiness_command,
                phone, publish, run_command, serve, demo):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="leadlink")


if __name__ == "__main__":
    main()

"""The `leadlink` command line. Commands are thin: they read options and call plain functions.

The root command reads the settings once; a bad setting (exit 3) or a database error (exit 1) in
any command is reported by leadlink.cli.errors as one line, not a traceback.
"""

from __future__ import annotations

from typing import Any

import click
import psycopg2

from leadlink.cli.crm import crm
from leadlink.cli.db import db, migrate_command
from leadlink.cli.dbt import dbt, exec_command
from leadlink.cli.demo import demo
from leadlink.cli.errors import report
from leadlink.cli.identity import lookup_command, readiness_command
from leadlink.cli.load import load
from leadlink.cli.phone import phone
from leadlink.cli.publish import publish
from leadlink.cli.run import run_command
from leadlink.cli.serve import serve
from leadlink.runtime.embedded import EmbeddedDatabaseError
from loaders.logging_utils import configure_logging
from loaders.settings import Settings, SettingsError


class LeadlinkGroup(click.Group):
    """The root group: turns a bad setting or a database error into one line and an exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        pending = [*getattr(ctx, "_protected_args", ()), *ctx.args]
        try:
            return super().invoke(ctx)
        except (SettingsError, psycopg2.Error, EmbeddedDatabaseError) as error:
            log_format = ctx.params.get("log_format") or getattr(error, "log_format", None) or "text"
            ctx.exit(report(error, log_format, pending[0] if pending else None, pending[1:]))


@click.group(cls=LeadlinkGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None,
              help="Log lines as text or as JSON objects (default: env LEADLINK_LOG_FORMAT, else text).")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def cli(ctx: click.Context, log_format: str | None, verbose: bool) -> None:
    """leadlink: land Knowlarity and Meta Lead Ads records and build clean customers and leads.

    The database is LEADLINK_DATABASE_URL when set, else an embedded PostgreSQL under
    .leadlink/pgdata started on demand.
    """
    settings = Settings.from_environ()
    ctx.params["log_format"] = log_format or settings.log_format  # what the commands read
    configure_logging(ctx.params["log_format"], verbose)
    ctx.ensure_object(dict)
    ctx.obj["settings"] = settings


for command in (db, migrate_command, dbt, exec_command, load, lookup_command, readiness_command,
                phone, publish, run_command, serve, demo, crm):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="leadlink")


if __name__ == "__main__":
    main()

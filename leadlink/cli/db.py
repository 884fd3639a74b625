"""`leadlink db up|down|status|url` and `leadlink migrate`."""

from __future__ import annotations

import sys

import click
import psycopg2

from leadlink.cli.context import settings_of
from leadlink.runtime.database import embedded_server, prepare, resolve_database_url
from loaders.database import connect, database_message, migrate, redact_url


@click.group()
def db() -> None:
    """Manage the embedded PostgreSQL server (no-ops that say so when LEADLINK_DATABASE_URL is set)."""


@db.command("up")
@click.pass_context
def db_up(ctx: click.Context) -> None:
    """Start the embedded server (harmless when it already runs) and apply migrations."""
    settings = settings_of(ctx)
    url = prepare(settings)
    where = "external database" if settings.database_url else f"embedded server in {settings.pgdata_dir}"
    click.echo(f"up: {where}, {redact_url(url)}")


@db.command("down")
@click.pass_context
def db_down(ctx: click.Context) -> None:
    """Stop the embedded server."""
    settings = settings_of(ctx)
    if settings.database_url:
        click.echo("LEADLINK_DATABASE_URL is set: leadlink does not manage that server")
        return
    stopped = embedded_server(settings).stop()
    click.echo("stopped" if stopped else "not running")


@db.command("status")
@click.pass_context
def db_status(ctx: click.Context) -> None:
    """Say whether the server runs, where, and on which port. Exit 1 when it does not run."""
    settings = settings_of(ctx)
    if settings.database_url:
        try:
            connect(settings.database_url).close()
        except psycopg2.Error as error:
            click.echo(f"external database {redact_url(settings.database_url)}: not answering "
                       f"({database_message(error)})")
            sys.exit(1)
        click.echo(f"external database {redact_url(settings.database_url)}: answering")
        return
    status = embedded_server(settings).status()
    if status.running:
        click.echo(f"running: pid {status.pid}, port {status.port}, data {status.pgdata}")
    else:
        click.echo(f"stopped: data {status.pgdata}")
        sys.exit(1)


@db.command("url")
@click.option("--show-password", is_flag=True,
              help="Print the password too (default: replaced by ***; the embedded server has none).")
@click.pass_context
def db_url(ctx: click.Context, show_password: bool) -> None:
    """Print the database URL (psql accepts it), starting the embedded server if needed."""
    url = resolve_database_url(settings_of(ctx))
    click.echo(url if show_password else redact_url(url))


@click.command()
@click.pass_context
def migrate_command(ctx: click.Context) -> None:
    """Create or update the raw landing schema (load commands do this themselves)."""
    settings = settings_of(ctx)
    url = resolve_database_url(settings)
    applied = migrate(url, settings)
    click.echo(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")


migrate_command.name = "migrate"



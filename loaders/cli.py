"""The `leadlink` command line. Commands are thin: they read options and call plain functions."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from loaders.config import Settings
from loaders.database import embedded_server, migrate, prepare, redact_url, resolve_database_url
from loaders.logging_utils import configure_logging
from loaders.webhooks.server import serve


def _settings(ctx: click.Context) -> Settings:
    return ctx.find_root().obj["settings"]


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


# --- database -------------------------------------------------------------------------------
@cli.group()
def db() -> None:
    """Manage the embedded PostgreSQL server (no-ops that say so when LEADLINK_DATABASE_URL is set)."""


@db.command("up")
@click.pass_context
def db_up(ctx: click.Context) -> None:
    """Start the embedded server (harmless when it already runs) and apply migrations."""
    settings = _settings(ctx)
    url = prepare(settings)
    where = "external database" if settings.database_url else f"embedded server in {settings.pgdata_dir}"
    click.echo(f"up: {where}, {redact_url(url)}")


@db.command("down")
@click.pass_context
def db_down(ctx: click.Context) -> None:
    """Stop the embedded server."""
    settings = _settings(ctx)
    if settings.database_url:
        click.echo("LEADLINK_DATABASE_URL is set: leadlink does not manage that server")
        return
    stopped = embedded_server(settings).stop()
    click.echo("stopped" if stopped else "not running")


@db.command("status")
@click.pass_context
def db_status(ctx: click.Context) -> None:
    """Say whether the server runs, where, and on which port. Exit 1 when it does not run."""
    settings = _settings(ctx)
    if settings.database_url:
        from loaders.database import connect

        try:
            connect(settings.database_url).close()
        except Exception as error:  # noqa: BLE001 - report any connection failure
            click.echo(f"external database {redact_url(settings.database_url)}: not answering ({error})")
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
@click.pass_context
def db_url(ctx: click.Context) -> None:
    """Print the database URL (psql accepts it), starting the embedded server if needed."""
    click.echo(resolve_database_url(_settings(ctx)))


@cli.command()
@click.pass_context
def migrate_command(ctx: click.Context) -> None:
    """Create or update the raw landing schema (load commands do this themselves)."""
    settings = _settings(ctx)
    url = resolve_database_url(settings)
    applied = migrate(url, settings)
    click.echo(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")


migrate_command.name = "migrate"


# --- dbt and friends --------------------------------------------------------------------------
@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                               "help_option_names": []})
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def dbt(ctx: click.Context, dbt_args: tuple[str, ...]) -> None:
    """Run dbt against the current database with the project's profile, e.g. `leadlink dbt build`.

    Every argument goes to dbt (`leadlink dbt --help` shows dbt's help).
    """
    from loaders.dbt_runner import run_dbt

    settings = _settings(ctx)
    url = prepare(settings)
    sys.exit(run_dbt(settings, url, list(dbt_args)).returncode)


@cli.command("exec", context_settings={"ignore_unknown_options": True})
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def exec_command(ctx: click.Context, command: tuple[str, ...]) -> None:
    """Run COMMAND with the dbt profile environment set (e.g. `leadlink exec -- sqlfluff lint`)."""
    from loaders.dbt_runner import run_with_dbt_env

    settings = _settings(ctx)
    sys.exit(run_with_dbt_env(settings, prepare(settings), command))


# --- loading ----------------------------------------------------------------------------------
@cli.group()
def load() -> None:
    """Land records into the raw tables (idempotent: re-loading lands nothing new)."""


@load.command("file")
@click.option("--source", type=click.Choice(["knowlarity", "meta"]), required=True,
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

    settings = _settings(ctx)
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

    settings = _settings(ctx)
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


# --- identity ---------------------------------------------------------------------------------
@cli.command("lookup")
@click.argument("phone")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"phone_e164": ..., "customer": {...} or null, "leads": [...]}.')
@click.option("--region", default="IN", show_default=True,
              help="Region for numbers written without a country code.")
@click.pass_context
def lookup_command(ctx: click.Context, phone: str, as_json: bool, region: str) -> None:
    """Find a customer by PHONE in any format (+91..., 0..., 98765 43210, 0091...): the customer
    and all their leads across sources, branches and the CRM's own rows, and whether the CRM
    links each lead yet. Exit 0 when a customer is found, 1 when not.
    """
    from loaders.database import connection
    from loaders.lookup import LookupUnavailable, lookup, render

    settings = _settings(ctx)
    url = resolve_database_url(settings)
    try:
        with connection(url, "leadlink-lookup") as conn, conn.cursor() as cursor:
            result = lookup(settings, cursor, phone, region)
    except LookupUnavailable as error:
        raise click.ClickException(str(error)) from error
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
    else:
        for line in render(result, phone):
            click.echo(line)
    sys.exit(0 if result.customer is not None else 1)


@cli.command("readiness")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"ready": bool, "checks": [{"name", "failing_rows", "ready"}]}.')
@click.option("--refresh", is_flag=True,
              help="Re-check the CRM's tables as they are now (rebuilds the readiness models;"
                   " e.g. right after `leadlink publish --apply`).")
@click.pass_context
def readiness_command(ctx: click.Context, as_json: bool, refresh: bool) -> None:
    """Can the CRM switch on leads_master.customer_id NOT NULL and the FOREIGN KEY to customers?
    One line per check (name, failing rows, ready) from the dbt model readiness_checks, as of the
    last build (or now, with --refresh). Exit 0 only when every check is ready.
    """
    from loaders.readiness import (NotBuiltError, as_json as checks_json, read_checks,
                                   refresh_checks, render)

    settings = _settings(ctx)
    url = resolve_database_url(settings)
    try:
        if refresh:
            refresh_checks(settings, url)
        checks = read_checks(settings, url)
    except NotBuiltError as error:
        raise click.ClickException(str(error)) from error
    if as_json:
        click.echo(json.dumps(checks_json(checks), indent=2))
    else:
        for line in render(checks):
            click.echo(line)
    sys.exit(0 if all(check.ready for check in checks) else 1)


# --- the demo ---------------------------------------------------------------------------------
@cli.command()
@click.option("--fresh", is_flag=True, help="Start from an empty embedded database.")
@click.option("--samples", "samples_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Folder with knowlarity/, meta/, legacy/ (default: ./samples).")
@click.option("--quiet", is_flag=True, help="Less dbt output (only errors and the summary).")
@click.pass_context
def demo(ctx: click.Context, fresh: bool, samples_dir: Path | None, quiet: bool) -> None:
    """Load the sample data, run `dbt build`, and print a summary."""
    from loaders import demo as demo_steps
    from loaders.dbt_runner import run_dbt

    settings = _settings(ctx)
    url = demo_steps.resolve_for_demo(settings, fresh)
    loaded = demo_steps.load_samples(settings, url, samples_dir or settings.project_dir / "samples")
    for source, counts in loaded.per_source.items():
        click.echo(f"loaded {source}: landed {counts.landed}, already present "
                   f"{counts.already_present}, quarantined {counts.quarantined}")
    dbt_args = ["build"] + (["--quiet"] if quiet else [])
    result = run_dbt(settings, url, dbt_args)
    figures = demo_steps.summary(settings, url)
    click.echo("\nleadlink demo summary")
    for name, value in figures.items():
        click.echo(f"  {name:<18} {'not built' if value is None else value}")
    click.echo(f"\nLook next:\n  psql '{redact_url(url)}'\n  leadlink dbt docs generate"
               f" && leadlink dbt docs serve\n  leadlink readiness\n  leadlink lookup PHONE")
    if result.returncode != 0:
        raise click.ClickException(f"dbt build failed (exit {result.returncode})")


# --- commands that live in their own modules (one line each; keep this block sorted) ---------
from loaders.knowlarity.cli import load_knowlarity_command  # noqa: E402
load.add_command(load_knowlarity_command)
from loaders.meta.cli import load_meta_command  # noqa: E402
load.add_command(load_meta_command)
from loaders.phone import phone  # noqa: E402
cli.add_command(phone)  # loaders/phone.py (issue 4)
from loaders.publish.command import publish  # noqa: E402
cli.add_command(publish)  # loaders/publish/ (issue 8)
from loaders.scheduled_run import run_command  # noqa: E402
cli.add_command(run_command)
cli.add_command(serve)  # loaders/webhooks/server.py (issue 7)


def main() -> None:
    cli(prog_name="leadlink")


if __name__ == "__main__":
    main()

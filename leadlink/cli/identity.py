"""`leadlink lookup` and `leadlink readiness`."""

from __future__ import annotations

import json
import sys

import click

from leadlink.cli.context import settings_of
from leadlink.runtime.database import resolve_database_url


@click.command("lookup")
@click.argument("phone")
@click.option("--json", "as_json", is_flag=True,
              help='Print the function\'s JSON: {"phone_e164", "unusable_reason", "customer", "leads"}.')
@click.option("--region", default="IN", show_default=True,
              help="Region for numbers written without a country code.")
@click.pass_context
def lookup_command(ctx: click.Context, phone: str, as_json: bool, region: str) -> None:
    """Find a person by PHONE in any format (+91..., 0..., 98765 43210, 0091...) in the CRM as it
    is now: the customer (lowest id of every writing) and every leads_master row of the person.
    A client of the CRM function leadlink.find_customer_with_leads_by_phone (`leadlink crm
    install`), in LEADLINK_CRM_DATABASE_URL or leadlink's own database. Exit 0 when the CRM knows
    the person (a customer or a lead), 1 when not.
    """
    from leadlink.identity.lookup import LookupUnavailable, lookup, render
    from loaders.database import connection

    settings = settings_of(ctx)
    url = settings.publish.crm_database_url or resolve_database_url(settings)
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
    sys.exit(0 if result.found else 1)


@click.command("readiness")
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
    from leadlink.identity.readiness import NotBuiltError, read_checks, refresh_checks, render
    from leadlink.identity.readiness import as_json as checks_json

    settings = settings_of(ctx)
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



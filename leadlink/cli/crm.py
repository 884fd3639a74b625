"""`leadlink crm install`: the CRM application's functions in its own database."""

from __future__ import annotations

import json
import sys

import click

from leadlink.cli.context import settings_of

PREFLIGHT_EXIT = 77  # sysexits EX_NOPERM: the role lacks a right; nothing was changed


@click.group("crm")
def crm() -> None:
    """The CRM application's side: leadlink's normaliser and identity rules inside the CRM's
    database, callable by the app (supabase.rpc or plain SQL)."""


@crm.command("install")
@click.option("--grant", "grant_to", multiple=True, metavar="ROLE",
              help="Grant usage on schema leadlink and execute on the app's functions to ROLE"
                   " (repeatable; Supabase: service_role, authenticated).")
@click.option("--json", "as_json", is_flag=True, help="Print what was installed as JSON.")
@click.pass_context
def install_command(ctx: click.Context, grant_to: tuple[str, ...], as_json: bool) -> None:
    """Install or upgrade, in schema `leadlink` of the CRM database (LEADLINK_CRM_DATABASE_URL,
    else leadlink's own; CRM tables in LEADLINK_CRM_SCHEMA): normalize_phone,
    find_or_create_customer_by_phone, find_customer_with_leads_by_phone, the phone metadata they
    read and the indexes they use on customers and leads_master (built CONCURRENTLY).

    Idempotent; works on a CRM leadlink never built or published. Checks first that the role can
    do all of it (exit 77 naming the missing right, nothing changed). See docs/crm-functions.md.
    """
    from leadlink.crm.functions.install import install
    from leadlink.crm.functions.plan import PlanError, render_plan
    from leadlink.crm.functions.preflight import PreflightError
    from leadlink.runtime.database import resolve_database_url

    settings = settings_of(ctx)
    url = settings.publish.crm_database_url or resolve_database_url(settings)
    try:
        plan = render_plan(settings, url)
        report = install(url, plan, grant_to)
    except PreflightError as error:
        click.echo(str(error), err=True)
        sys.exit(PREFLIGHT_EXIT)
    except PlanError as error:
        raise click.ClickException(str(error)) from error
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    click.echo(f"installed {', '.join(report.functions)} in schema {report.function_schema}"
               f" (CRM tables in {report.crm_schema}; phone metadata of phonenumbers"
               f" {report.phonenumbers_version})")
    for name, state in report.indexes.items():
        click.echo(f"  index {name}: {state}")
    if report.granted_to:
        click.echo(f"  execute granted to {', '.join(report.granted_to)}")
    else:
        click.echo("  no role granted yet: see `leadlink crm install --grant ROLE`")

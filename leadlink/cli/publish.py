"""`leadlink publish`: the click command (thin: options in, functions in leadlink.crm.publish.run)."""

from __future__ import annotations

import json

import click

from loaders.settings import Settings


@click.command("publish")
@click.option("--apply", "apply_changes", is_flag=True,
              help="Write to the CRM (default: a dry run that prints the plan).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan / result as JSON.")
@click.option("--undo", "undo_batch", type=int, metavar="BATCH",
              help="Restore what apply batch BATCH changed.")
@click.option("--delete-merged", is_flag=True,
              help="Delete merged duplicate customers once nothing references them.")
@click.option("--archive-unlinkable", is_flag=True,
              help="Move unlinkable legacy leads to leadlink_publish.archived_rows so NOT NULL"
                   " can be added (undo puts them back).")
@click.pass_context
def publish(ctx: click.Context, apply_changes: bool, as_json: bool, undo_batch: int | None,
            delete_merged: bool, archive_unlinkable: bool) -> None:
    """Publish the marts to the CRM's tables (schema LEADLINK_CRM_SCHEMA, database
    LEADLINK_CRM_DATABASE_URL or leadlink's own): customers, leads_master.customer_id, new leads
    and history rows, source counters, then the FK and NOT NULL on leads_master.customer_id.

    Batched short transactions with lock_timeout; every change is audited under a batch id in
    schema leadlink_publish and can be undone with --undo BATCH. See docs/publish.md.
    """
    from leadlink.crm.publish import run
    from leadlink.crm.publish.batches import PublishLockError, ShortfallError
    from leadlink.crm.publish.plan import render
    from leadlink.crm.publish.preflight import PreflightError
    from leadlink.crm.publish.steps import ApplyOptions
    from leadlink.crm.publish.undo import UndoError
    from leadlink.runtime.database import prepare
    from loaders.locks import LockLost

    settings: Settings = ctx.find_root().obj["settings"]
    url = prepare(settings)
    options = ApplyOptions(delete_merged=delete_merged, archive_unlinkable=archive_unlinkable)
    try:
        if undo_batch is not None:
            if apply_changes:
                raise click.UsageError("--undo and --apply do not go together")
            result = run.undo(settings, url, undo_batch)
            if as_json:
                click.echo(json.dumps(result.as_dict(), indent=2))
                return
            click.echo(f"undid batch {result.batch_id}")
            for name, count in result.restored.items():
                click.echo(f"  restored {name}: {count}")
            for name, count in result.kept.items():
                if count:
                    click.echo(f"  kept ({name}): {count}")
            return
        if not apply_changes:
            planned = run.dry_run(settings, url, options)
            click.echo(json.dumps(planned, indent=2) if as_json else
                       render(planned) + "\n(dry run: nothing written; --apply to publish)")
            return
        applied = run.apply(settings, url, options)
    except (run.PublishError, UndoError, PublishLockError, PreflightError, ShortfallError,
            LockLost) as error:
        raise click.ClickException(str(error)) from error
    if as_json:
        click.echo(json.dumps(applied.as_dict(), indent=2, default=str))
        return
    click.echo(render(applied.plan))
    verb = "resumed" if applied.resumed else "applied"
    click.echo(f"\n{verb} batch {applied.batch_id} (undo: leadlink publish --undo"
               f" {applied.batch_id})")
    for step, seconds in applied.figures["step_seconds"].items():
        click.echo(f"  {step:<32} {seconds:8.3f} s  {applied.figures['rows'].get(step, 0)} row(s)")
    for item in applied.constraints:
        reason = f": {item['reason']}" if item["reason"] else ""
        click.echo(f"  constraint {item['name']}: {item['state']}{reason}")
    figures = applied.figures
    click.echo(f"  transactions {figures['transactions']}, lock retries {figures['retries']},"
               f" longest {figures['longest_transaction_ms']} ms ({figures['longest_transaction']}),"
               f" longest DDL {figures['longest_ddl_ms']} ms")

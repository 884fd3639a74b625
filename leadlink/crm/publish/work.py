"""Work tables (`w_*`): exactly what a step would change, computed (`sql/work_*.sql`) from the
staged marts (`pub_*`) and the CRM's current rows. The plan counts them; the steps write them in
key ranges, re-checking every condition in the write itself (compare-and-set), because the app keeps
writing in between.

Compare-and-set: a customer row is updated only while it still holds what the build saw (the
`publish_customers_baseline` snapshot taken by dbt: phone, name, email, city, updated_at); a lead's
customer_id only while it still holds the baseline value. A row the app edited after the export is
a *conflict*: left alone, counted in the plan, and picked up by the next build + publish.
"""

from __future__ import annotations

from pathlib import Path

import psycopg2.extensions
from psycopg2 import sql

from leadlink.crm.publish import queries
from leadlink.crm.publish.extract import stage_phone_matches
from leadlink.crm.publish.target import PublishTarget
from leadlink.crm.publish.workspace import Workspace

Reference = tuple[str, str, str]  # schema, table, column of a single-column foreign key
PHONE_MACRO = Path("macros", "publish", "publishable_phone.sql")


def has_column(cursor: psycopg2.extensions.cursor, target: PublishTarget, table: str,
               column: str) -> bool:
    cursor.execute("select 1 from pg_attribute where attrelid = to_regclass(%s) and attname = %s"
                   " and not attisdropped", (target.crm_regclass(cursor, table), column))
    return cursor.fetchone() is not None


def referenced_by(cursor: psycopg2.extensions.cursor, target: PublishTarget, table: str,
                  skip: tuple[str, ...] = ()) -> list[Reference]:
    """Single-column foreign keys pointing at the CRM table `table`, except from tables in `skip`
    (CRM table names)."""
    cursor.execute(queries.text("referenced_by"), {"table": target.crm_regclass(cursor, table)})
    return [(schema, name, column) for schema, name, column in cursor.fetchall()
            if not (schema == target.crm_schema and name in skip)]


def not_referenced(references: list[Reference], id_column: sql.Identifier) -> sql.Composable:
    """A condition: no row of any referencing table points at `id_column`."""
    parts = [sql.SQL("not exists (select from {} as referencing where referencing.{} = {})").format(
        sql.Identifier(schema, table), sql.Identifier(column), id_column)
        for schema, table, column in references]
    return sql.SQL(" and ").join(parts) if parts else sql.SQL("true")


def _build(cursor: psycopg2.extensions.cursor, target: PublishTarget, workspace: Workspace,
           name: str, index: tuple[str, ...], **extra: sql.Composable) -> None:
    query = queries.statement(f"work_{name.removeprefix('w_').removeprefix('pub_')}",
                              {**target.schemas(), **workspace.parts()}, **extra)
    workspace.create_as(cursor, name, query, index=index)


def build_customer_targets(target: PublishTarget, cursor: psycopg2.extensions.cursor,
                           workspace: Workspace) -> None:
    """pub_customer_targets: the CRM id each staged mart customer is published as."""
    stage_phone_matches(target, cursor, workspace)
    _build(cursor, target, workspace, "pub_customer_targets", ("customer_id",))


def publishable_phone(target: PublishTarget) -> sql.Composed:
    """The phone an update writes (the dbt macro publishable_phone, which the customers baseline
    filters by too), over work_customer_updates' aliases."""
    return queries.macro_statement(target.project_dir / PHONE_MACRO, "publishable_phone",
                                   mart_phone=sql.SQL("mart_customers.phone_e164"),
                                   current_phone=sql.SQL("crm_customers.phone_number_normalized"),
                                   holder_id=sql.SQL("phone_holder.id"))


def build_customer_work(target: PublishTarget, cursor: psycopg2.extensions.cursor,
                        workspace: Workspace) -> None:
    build_customer_targets(target, cursor, workspace)
    _build(cursor, target, workspace, "w_customer_inserts", ("customer_id",))
    _build(cursor, target, workspace, "w_customer_updates", ("customer_id",),
           new_phone=publishable_phone(target))
    _build(cursor, target, workspace, "w_merges", ("merged_customer_id",))


def build_lead_work(target: PublishTarget, cursor: psycopg2.extensions.cursor,
                    workspace: Workspace) -> None:
    """w_lead_links: legacy leads whose customer_id differs from the published one; w_repoint:
    other leads (e.g. created by the app after the build) pointing at a merged customer."""
    _build(cursor, target, workspace, "w_lead_links", ("lead_id",))
    _build(cursor, target, workspace, "w_repoint", ("lead_id",))


def _build_numbered(cursor: psycopg2.extensions.cursor, target: PublishTarget,
                    workspace: Workspace, name: str, **extra: sql.Composable) -> None:
    """A work table numbered by `seq`, for key ranges."""
    _build(cursor, target, workspace, name, (), **extra)
    cursor.execute(sql.SQL("alter table {} add column seq bigserial").format(workspace.table(name)))
    workspace.finish(cursor, name, ("seq",))


def build_new_lead_work(target: PublishTarget, cursor: psycopg2.extensions.cursor,
                        workspace: Workspace, check_taken: bool = True) -> None:
    """w_new_leads (case A) and w_history (case C). check_taken: leave out the leads the CRM
    holds already (the plan's count); the apply's insert checks that in the write itself."""
    _build_numbered(cursor, target, workspace, "w_new_leads", check_taken=sql.Literal(check_taken))
    build_history_work(target, cursor, workspace)


def build_history_work(target: PublishTarget, cursor: psycopg2.extensions.cursor,
                       workspace: Workspace) -> None:
    """w_history alone: after the new leads' step, which resolves the leads of the history rows
    filed under a new lead (w_new_leads as it was built for that step still names them)."""
    _build_numbered(cursor, target, workspace, "w_history")


def build_archive_work(target: PublishTarget, cursor: psycopg2.extensions.cursor,
                       workspace: Workspace) -> list[str]:
    """w_archive: unlinkable legacy leads still without customer_id that nothing but
    lead_sources_history references. Returns the referencing tables that keep leads in place."""
    others = referenced_by(cursor, target, "leads_master", skip=("lead_sources_history",))
    condition = not_referenced(others, sql.Identifier("crm_leads", "id"))
    _build(cursor, target, workspace, "w_archive", ("lead_id",), not_referenced=condition)
    return [f"{schema}.{table}" for schema, table, _ in others]


def build_delete_merged_work(target: PublishTarget, cursor: psycopg2.extensions.cursor,
                             workspace: Workspace) -> sql.Composable:
    """w_delete_merged; returns the not-referenced condition the delete re-checks."""
    others = referenced_by(cursor, target, "customers")
    condition = not_referenced(others, sql.Identifier("crm_customers", "id"))
    _build(cursor, target, workspace, "w_delete_merged", ("customer_id",),
           not_referenced=condition)
    return condition

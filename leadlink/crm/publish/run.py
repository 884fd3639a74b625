"""The three things publish does, as plain functions: plan (dry run), apply, undo.

Pooler-safe: no session state. One publish (apply or undo) at a time is a lease row in raw.locks
(`loaders.locks`), not a session advisory lock; timeouts are set per transaction; a dry run is one
transaction on temp tables, an apply or undo keeps its scratch tables in leadlink_publish.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources

import psycopg2.extensions
from psycopg2 import sql

from leadlink.crm.publish import constraints, extract, preflight, steps
from leadlink.crm.publish import plan as plan_module
from leadlink.crm.publish import undo as undo_module
from leadlink.crm.publish.batches import Figures, set_timeouts
from leadlink.crm.publish.ledger import set_status, start_batch
from leadlink.crm.publish.target import LOCK_NAME, PUBLISH_SCHEMA, SCHEMA_LOCK_KEY, PublishTarget
from leadlink.crm.publish.workspace import Workspace, drop_leftovers
from loaders.locks import LockBusy, hold
from loaders.settings import Settings

log = logging.getLogger("leadlink.publish")

MARTS = ("customers", "leads", "lead_touches", "unlinkable_leads", "customer_merges",
         "publish_customers_baseline", "publish_leads_baseline")
PUBLISH_MIGRATIONS = ("004_publish.sql", "007_publish_pooler.sql")


class PublishError(RuntimeError):
    pass


@dataclass
class ApplyResult:
    batch_id: int
    resumed: bool
    plan: dict
    constraints: list[dict] = field(default_factory=list)
    figures: dict = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Rows written, by what they are (for `run --publish` and monitoring)."""
        rows = self.figures.get("rows", {})
        return {
            "customers_inserted": rows.get("1.customers.insert", 0),
            "customers_updated": rows.get("1.customers.update", 0),
            "customers_marked_merged": rows.get("1.customers.mark_merged", 0),
            "customers_deleted": rows.get("1.customers.delete_merged", 0),
            "leads_linked": rows.get("2.leads.link", 0),
            "leads_repointed": rows.get("2.leads.repoint_merged", 0),
            "new_leads": rows.get("3.leads.insert_new", 0),
            "history_rows": rows.get("3.history.insert", 0),
            "leads_archived": rows.get("3.leads.archive_unlinkable", 0),
            "sources_recounted": rows.get("3.sources.recount", 0),
        }

    def as_dict(self) -> dict:
        return {"batch_id": self.batch_id, "resumed": self.resumed, "counts": self.counts(),
                "plan": self.plan, "constraints": self.constraints, "figures": self.figures}


def _missing(conn: psycopg2.extensions.connection, schema: str, names: tuple[str, ...]) -> list[str]:
    with conn.cursor() as cursor:
        cursor.execute("select name from unnest(%s::text[]) as wanted (name)"
                       " where to_regclass(quote_ident(%s) || '.' || quote_ident(name)) is null",
                       (list(names), schema))
        missing = [row[0] for row in cursor.fetchall()]
    conn.rollback()
    return missing


def _check_tables(target: PublishTarget, writing: bool) -> None:
    conn = target.connect_leadlink()
    try:
        missing = _missing(conn, target.analytics_schema, MARTS)
    finally:
        conn.close()
    if missing:
        raise PublishError(f"marts missing in schema {target.analytics_schema}:"
                           f" {', '.join(missing)} (run `leadlink dbt build` first)")
    conn = target.connect_crm()
    try:
        if writing:
            with conn.cursor() as cursor:
                preflight.check_schema(target, cursor)
            conn.rollback()
        absent = _missing(conn, target.crm_schema, preflight.CRM_TABLES)
    finally:
        conn.close()
    if absent:
        raise PublishError(f"CRM tables missing in schema {target.crm_schema}:"
                           f" {', '.join(absent)}")


def ensure_publish_schema(target: PublishTarget) -> None:
    """The audit tables live with the CRM tables: create them there too (idempotent DDL, skipped
    when they are all there, so a role without CREATE can publish into a prepared database)."""
    conn = target.connect_crm()
    try:
        with conn.cursor() as cursor:
            cursor.execute("select to_regclass(%s) is not null",
                           (f"{PUBLISH_SCHEMA}.publish_migrations",))
            done: set[str] = set()
            if cursor.fetchone()[0]:
                cursor.execute(sql.SQL("select name from {}.publish_migrations").format(
                    sql.Identifier(PUBLISH_SCHEMA)))
                done = {row[0] for row in cursor.fetchall()}
            pending = [name for name in PUBLISH_MIGRATIONS if name not in done]
            if pending:
                cursor.execute("select pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
                for name in pending:
                    text = (resources.files("loaders") / "migrations" / name).read_text("utf-8")
                    cursor.execute(text.replace("{raw_schema}", target.raw_schema))
        conn.commit()
    finally:
        conn.close()


@contextmanager
def _exclusive(target: PublishTarget) -> Iterator[None]:
    try:
        with hold(target.leadlink_url, target.raw_schema, LOCK_NAME,
                  lease_seconds=target.lock_lease_seconds,
                  busy_message="another leadlink publish (apply or undo) is running"):
            yield
    except LockBusy as error:
        raise PublishError(str(error)) from error


def dry_run(settings: Settings, leadlink_url: str, options: steps.ApplyOptions) -> dict:
    """The plan, computed in one transaction on temp tables, rolled back: nothing is written."""
    target = PublishTarget.from_settings(settings, leadlink_url)
    _check_tables(target, writing=False)
    conn = target.connect_crm()
    try:
        with conn.cursor() as cursor:
            set_timeouts(target, cursor)
            workspace = Workspace()
            staged = extract.stage_marts(target, cursor, workspace)
            return plan_module.build_plan(target, cursor, workspace, options, staged)
    finally:
        conn.rollback()
        conn.close()


def _plan(target: PublishTarget, conn: psycopg2.extensions.connection, workspace: Workspace,
          options: steps.ApplyOptions) -> dict:
    with conn.cursor() as cursor:
        set_timeouts(target, cursor)
        dropped = drop_leftovers(cursor, workspace)
        if dropped:
            log.info("dropped %d scratch table(s) of an earlier run that did not finish",
                     len(dropped))
        staged = extract.stage_marts(target, cursor, workspace)
        planned = plan_module.build_plan(target, cursor, workspace, options, staged, applying=True)
        preflight.check_plan(target, cursor, planned)
    conn.commit()
    return planned


def apply(settings: Settings, leadlink_url: str, options: steps.ApplyOptions) -> ApplyResult:
    target = PublishTarget.from_settings(settings, leadlink_url)
    _check_tables(target, writing=True)
    if target.separate_database:
        ensure_publish_schema(target)
    figures = Figures()
    workspace = Workspace.persistent()
    with _exclusive(target):
        conn = target.connect_crm()
        try:
            planned = _plan(target, conn, workspace, options)
            batch_id, resumed = start_batch(target, conn, options.as_dict(), planned)
            run = steps.Apply(target, conn, workspace, batch_id, figures)
            try:
                steps.apply_steps(run, options)
                added = constraints.apply_constraints(target, conn, figures, batch_id)
            except BaseException:
                conn.rollback()
                set_status(conn, batch_id, "failed", figures)
                raise
            set_status(conn, batch_id, "applied", figures)
        finally:
            _cleanup(conn, workspace)
    return ApplyResult(batch_id, resumed, planned, [item.as_dict() for item in added],
                       figures.as_dict())


def _cleanup(conn: psycopg2.extensions.connection, workspace: Workspace) -> None:
    try:
        conn.rollback()
        with conn.cursor() as cursor:
            workspace.drop_all(cursor)
        conn.commit()
    except psycopg2.Error as error:  # the next run under the lock drops them
        log.warning("could not drop scratch tables (%s)", type(error).__name__)
    finally:
        conn.close()


def undo(settings: Settings, leadlink_url: str, batch_id: int) -> undo_module.UndoResult:
    target = PublishTarget.from_settings(settings, leadlink_url)
    if target.separate_database:
        ensure_publish_schema(target)
    workspace = Workspace.persistent()
    with _exclusive(target):
        conn = target.connect_crm()
        try:
            with conn.cursor() as cursor:
                drop_leftovers(cursor, workspace)
            conn.commit()
            return undo_module.undo_batch(undo_module.Undo(
                target, conn, workspace, batch_id, Figures(), undo_module.UndoResult(batch_id)))
        finally:
            _cleanup(conn, workspace)

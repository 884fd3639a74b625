"""The three things publish does, as plain functions: plan (dry run), apply, undo."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources

import psycopg2.extensions

from leadlink.crm.publish import constraints, extract, steps
from leadlink.crm.publish import plan as plan_module
from leadlink.crm.publish import undo as undo_module
from leadlink.crm.publish.batches import Figures
from leadlink.crm.publish.target import ADVISORY_LOCK_KEY, PublishTarget
from loaders.settings import Settings

log = logging.getLogger("leadlink.publish")

MARTS = ("customers", "leads", "lead_touches", "unlinkable_leads", "customer_merges",
         "publish_customers_baseline", "publish_leads_baseline")
CRM_TABLES = ("sources", "customers", "leads_master", "lead_sources_history")


class PublishError(RuntimeError):
    pass


@dataclass
class ApplyResult:
    batch_id: int
    resumed: bool
    plan: dict
    constraints: list[dict] = field(default_factory=list)
    figures: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"batch_id": self.batch_id, "resumed": self.resumed, "plan": self.plan,
                "constraints": self.constraints, "figures": self.figures}


def _check_tables(target: PublishTarget) -> None:
    with target.connect_leadlink() as conn, conn.cursor() as cursor:
        missing = []
        for name in MARTS:
            cursor.execute("select to_regclass(%s)", (f"{target.sql('{analytics}')}.{name}",))
            if cursor.fetchone()[0] is None:
                missing.append(name)
    conn.close()
    if missing:
        raise PublishError(f"marts missing in schema {target.analytics_schema}:"
                           f" {', '.join(missing)} (run `leadlink dbt build` first)")
    with target.connect_crm() as conn, conn.cursor() as cursor:
        absent = []
        for name in CRM_TABLES:
            cursor.execute("select to_regclass(%s)", (f"{target.sql('{crm}')}.{name}",))
            if cursor.fetchone()[0] is None:
                absent.append(name)
    conn.close()
    if absent:
        raise PublishError(f"CRM tables missing in schema {target.crm_schema}:"
                           f" {', '.join(absent)}")


def ensure_publish_schema(target: PublishTarget, settings: Settings) -> None:
    """The audit tables live with the CRM tables: create them there too (idempotent DDL)."""
    text = (resources.files("loaders") / "migrations" / "004_publish.sql").read_text("utf-8")
    conn = target.connect_crm()
    try:
        with conn.cursor() as cursor:
            cursor.execute("select pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY + 1,))
            cursor.execute(text.replace("{raw_schema}", settings.raw_schema))
        conn.commit()
    finally:
        conn.close()


@contextmanager
def _crm_session(target: PublishTarget, exclusive: bool) -> Iterator[psycopg2.extensions.connection]:
    conn = target.connect_crm()
    try:
        if exclusive:
            with conn.cursor() as cursor:
                cursor.execute("select pg_try_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
                if not cursor.fetchone()[0]:
                    raise PublishError("another leadlink publish is running on this CRM database")
            conn.commit()
        yield conn
    finally:
        conn.close()  # ends the session: temp tables and the advisory lock go with it


def dry_run(settings: Settings, leadlink_url: str, options: steps.ApplyOptions) -> dict:
    target = PublishTarget.from_settings(settings, leadlink_url)
    _check_tables(target)
    with _crm_session(target, exclusive=False) as conn:
        staged = extract.stage_marts(target, conn)
        return plan_module.build_plan(target, conn, options, staged)


def apply(settings: Settings, leadlink_url: str, options: steps.ApplyOptions) -> ApplyResult:
    target = PublishTarget.from_settings(settings, leadlink_url)
    _check_tables(target)
    if target.separate_database:
        ensure_publish_schema(target, settings)
    figures = Figures()
    with _crm_session(target, exclusive=True) as conn:
        staged = extract.stage_marts(target, conn)
        planned = plan_module.build_plan(target, conn, options, staged)
        batch_id, resumed = steps.start_batch(target, conn, options, planned)
        try:
            steps.apply_steps(target, conn, batch_id, options, figures)
            added = constraints.apply_constraints(target, conn, figures, batch_id)
        except BaseException:
            conn.rollback()
            steps.finish_batch(target, conn, batch_id, "failed", figures)
            raise
        steps.finish_batch(target, conn, batch_id, "applied", figures)
    return ApplyResult(batch_id, resumed, planned, [item.as_dict() for item in added],
                       figures.as_dict())


def undo(settings: Settings, leadlink_url: str, batch_id: int) -> undo_module.UndoResult:
    target = PublishTarget.from_settings(settings, leadlink_url)
    if target.separate_database:
        ensure_publish_schema(target, settings)
    with _crm_session(target, exclusive=True) as conn:
        return undo_module.undo_batch(target, conn, batch_id, Figures())

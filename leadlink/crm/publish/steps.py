"""`publish --apply`: the steps, in order, each idempotent (compare-and-set, not-exists) and written in
key ranges of the work tables, one short transaction per range that also records the step's
progress in leadlink_publish.step_progress and what it changed in the audit tables. Updates and
deletes check afterwards, in the same transaction, that their condition selects nothing any more:
rows filtered silently (row-level security, a trigger) are an error, not a smaller count."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import psycopg2.extensions
from psycopg2 import sql

from leadlink.crm.publish import queries, work
from leadlink.crm.publish.batches import Figures, in_transaction, run_ranges
from leadlink.crm.publish.ledger import Step
from leadlink.crm.publish.target import PUBLISH_SCHEMA, PublishTarget
from leadlink.crm.publish.workspace import Workspace

log = logging.getLogger("leadlink.publish.steps")

MERGED_COLUMN = "merged_into_customer_id"
Result = TypeVar("Result")


@dataclass(frozen=True)
class ApplyOptions:
    delete_merged: bool = False
    archive_unlinkable: bool = False

    def as_dict(self) -> dict[str, bool]:
        return {"delete_merged": self.delete_merged, "archive_unlinkable": self.archive_unlinkable}


@dataclass
class Apply:
    """One apply's context: where, which batch, which scratch tables, and its figures."""
    target: PublishTarget
    conn: psycopg2.extensions.connection
    workspace: Workspace
    batch_id: int
    figures: Figures

    @property
    def parts(self) -> dict[str, sql.Composable]:
        return {**self.target.schemas(), **self.workspace.parts()}

    def read(self, body: Callable[[psycopg2.extensions.cursor], Result]) -> Result:
        """A transaction that (re)builds work tables or reads: its own, committed."""
        return in_transaction(self.target, self.conn, self.figures, "work tables", body,
                              kind="read")

    def ranges(self, step: str, table: str, key: str, statement: str,
               candidates: str | None = None, **extra: sql.Composable) -> int:
        """Write `statement` over `table` in key ranges; `candidates` (a cas_*.sql file) is the
        rows it may write, composed into it and counted again afterwards."""
        left_over = None
        if candidates is not None:
            rows = queries.statement(candidates, self.parts, **extra)
            extra = {**extra, "candidates": rows}
            left_over = (sql.SQL("select count(*) from (") + rows
                         + sql.SQL(") as left_over"))
        return run_ranges(self.target, self.conn, self.figures, self.batch_id, step,
                          self.workspace.table(table), key,
                          queries.statement(statement, self.parts, **extra), left_over)


def add_merged_column(run: Apply) -> int:
    target = run.target

    def ddl(cursor: psycopg2.extensions.cursor) -> int:
        if work.has_column(cursor, target, "customers", MERGED_COLUMN):
            return 0
        table, column = target.crm_table("customers"), sql.Identifier(MERGED_COLUMN)
        cursor.execute(sql.SQL("alter table {} add column {} bigint").format(table, column))
        cursor.execute(sql.SQL("comment on column {}.{} is {}").format(
            table, column, sql.Literal("leadlink publish: this row is the same person as that"
                                       " customer (the survivor); its leads point there")))
        cursor.execute(sql.SQL(
            "insert into {}.schema_changes (batch_id, table_name, kind, object_name)"
            " values (%s, 'customers', 'add_column', %s)").format(sql.Identifier(PUBLISH_SCHEMA)),
            (run.batch_id, MERGED_COLUMN))
        return 1

    return in_transaction(target, run.conn, run.figures, "add customers column", ddl, kind="ddl")


def customer_steps(run: Apply, runner: Step) -> bool:
    """Step 1: the merged_into column when there are merges, then inserts, updates, marks.
    Returns whether customers has the merged_into column."""
    target, workspace = run.target, run.workspace
    has_merges = run.read(lambda cursor: workspace.count(cursor, "pub_merges") > 0)
    runner.run("1.customers.add_merged_column", lambda: add_merged_column(run) if has_merges else 0)
    merged_column = run.read(lambda cursor: work.has_column(cursor, target, "customers",
                                                            MERGED_COLUMN))
    run.read(lambda cursor: work.build_customer_work(target, cursor, workspace))
    runner.run("1.customers.insert", lambda: run.ranges(
        "1.customers.insert", "w_customer_inserts", "customer_id", "step_insert_customers"))
    runner.run("1.customers.update", lambda: run.ranges(
        "1.customers.update", "w_customer_updates", "customer_id", "step_update_customers",
        candidates="cas_customer_updates"))
    if merged_column:
        runner.run("1.customers.mark_merged", lambda: run.ranges(
            "1.customers.mark_merged", "w_merges", "merged_customer_id", "step_mark_merged",
            candidates="cas_mark_merged"))
    return merged_column


def lead_steps(run: Apply, runner: Step) -> None:
    """Step 2: leads_master.customer_id (targets re-resolved: the app may have taken a phone
    meanwhile), then leads still on a merged duplicate move to the survivor."""
    target, workspace = run.target, run.workspace

    def rebuild(cursor: psycopg2.extensions.cursor) -> None:
        work.build_customer_targets(target, cursor, workspace)
        work.build_lead_work(target, cursor, workspace)

    run.read(rebuild)
    runner.run("2.leads.link", lambda: run.ranges(
        "2.leads.link", "w_lead_links", "lead_id", "step_set_lead_customers",
        candidates="cas_link_leads"))
    runner.run("2.leads.repoint_merged", lambda: run.ranges(
        "2.leads.repoint_merged", "w_repoint", "lead_id", "step_set_lead_customers",
        candidates="cas_repoint_leads"))


def delete_merged_step(run: Apply, runner: Step) -> None:
    """Merged duplicates deleted on request, once nothing references them."""
    def delete() -> int:
        condition = run.read(lambda cursor: work.build_delete_merged_work(
            run.target, cursor, run.workspace))
        return run.ranges("1.customers.delete_merged", "w_delete_merged", "customer_id",
                          "step_delete_merged", candidates="cas_delete_merged",
                          not_referenced=condition)

    runner.run("1.customers.delete_merged", delete)


def new_lead_steps(run: Apply, runner: Step) -> None:
    """Step 3: new leads (case A), then history rows (case C), whose lead may be one just added."""
    # the insert checks in the write itself that the CRM does not hold a lead yet
    run.read(lambda cursor: work.build_new_lead_work(run.target, cursor, run.workspace,
                                                     check_taken=False))
    runner.run("3.leads.insert_new", lambda: run.ranges(
        "3.leads.insert_new", "w_new_leads", "seq", "step_insert_leads"))
    # the leads just inserted resolve the history rows filed under them; w_new_leads is not
    # built again (its check of every leads_master row costs a scan of the CRM's leads)
    run.read(lambda cursor: work.build_history_work(run.target, cursor, run.workspace))
    runner.run("3.history.insert", lambda: run.ranges(
        "3.history.insert", "w_history", "seq", "step_insert_history"))


def archive_step(run: Apply, runner: Step) -> None:
    run.read(lambda cursor: work.build_archive_work(run.target, cursor, run.workspace))
    runner.run("3.leads.archive_unlinkable", lambda: run.ranges(
        "3.leads.archive_unlinkable", "w_archive", "lead_id", "step_archive_leads",
        candidates="cas_archive_leads"))


def recount_step(run: Apply, runner: Step) -> None:
    """Counters last: they count what the steps above inserted and archived."""
    statement = queries.statement("step_recount_sources", run.parts)

    def body(cursor: psycopg2.extensions.cursor) -> int:
        cursor.execute(statement, {"batch_id": run.batch_id})
        return max(cursor.rowcount, 0)

    runner.run("3.sources.recount", lambda: in_transaction(
        run.target, run.conn, run.figures, "recount sources", body))


def apply_steps(run: Apply, options: ApplyOptions) -> None:
    """Steps 1-3 and the archive; constraints.apply_constraints runs after."""
    runner = Step(run.conn, run.figures, run.batch_id)
    merged_column = customer_steps(run, runner)
    lead_steps(run, runner)
    if options.delete_merged and merged_column:
        delete_merged_step(run, runner)
    new_lead_steps(run, runner)
    if options.archive_unlinkable:
        archive_step(run, runner)
    recount_step(run, runner)

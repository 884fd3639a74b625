"""`leadlink publish --undo BATCH`: put back what one apply changed, from its audit rows, newest
change first: constraints dropped, counters, archived rows, inserted history rows and leads,
customer_id values, customer rows, and the merged_into column.

Every restore is compare-and-set as well: a value is put back only while it still holds what the
batch wrote, so an edit the app made after the apply is not undone either (it is counted and
reported as kept). Without such edits the CRM tables end exactly as they were before the apply.
Columns the CRM team dropped or added since the apply are left out of the comparison and of the
restore. Each part is idempotent: an undo that fails (a lock, a lost connection) marks the batch
`undo_failed`, and the next `--undo` of it simply runs every part again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import psycopg2.extensions
from psycopg2 import sql

from leadlink.crm.publish import ledger, preflight, queries, work
from leadlink.crm.publish.batches import Figures, in_transaction, run_ranges
from leadlink.crm.publish.steps import MERGED_COLUMN
from leadlink.crm.publish.target import PUBLISH_SCHEMA, PublishTarget
from leadlink.crm.publish.workspace import Workspace

log = logging.getLogger("leadlink.publish.undo")

Result = TypeVar("Result")
UNDOABLE = ("applied", "failed", "undoing", "undo_failed")


class UndoError(RuntimeError):
    pass


@dataclass
class UndoResult:
    batch_id: int
    restored: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"batch_id": self.batch_id, "restored": self.restored, "kept": self.kept}


@dataclass
class Undo:
    target: PublishTarget
    conn: psycopg2.extensions.connection
    workspace: Workspace
    batch_id: int
    figures: Figures
    result: UndoResult
    values: dict = field(default_factory=dict)  # extra bound values of the next statement

    @property
    def parts(self) -> dict[str, sql.Composable]:
        return {**self.target.schemas(), **self.workspace.parts()}

    def read(self, body: Callable[[psycopg2.extensions.cursor], Result]) -> Result:
        return in_transaction(self.target, self.conn, self.figures, "undo read", body, kind="read")

    def run(self, label: str, name: str, **extra: sql.Composable) -> int:
        statement = queries.statement(name, self.parts, **extra)

        def body(cursor: psycopg2.extensions.cursor) -> int:
            cursor.execute(statement, {"batch_id": self.batch_id, **self.values})
            return max(cursor.rowcount, 0)

        count = in_transaction(self.target, self.conn, self.figures, f"undo {label}", body)
        self.result.restored[label] = self.result.restored.get(label, 0) + count
        return count


def _columns(cursor: psycopg2.extensions.cursor, target: PublishTarget, table: str) -> list[str]:
    cursor.execute("select attname from pg_attribute where attrelid = to_regclass(%s)"
                   " and attnum > 0 and not attisdropped order by attnum",
                   (target.crm_regclass(cursor, table),))
    return [row[0] for row in cursor.fetchall()]


def _column_lists(names: list[str]) -> dict[str, sql.Composable]:
    return {"columns": sql.SQL(", ").join(sql.Identifier(name) for name in names),
            "record_columns": sql.SQL(", ").join(sql.Identifier("record", name)
                                                 for name in names)}


def check_undoable(undo: Undo) -> None:
    """The batch exists, is not undone, and no later batch with changes is still applied."""
    def read(cursor: psycopg2.extensions.cursor) -> tuple[str | None, int | None]:
        cursor.execute(sql.SQL("select status, plan from {}.batches where batch_id = %s").format(
            sql.Identifier(PUBLISH_SCHEMA)), (undo.batch_id,))
        row = cursor.fetchone()
        cursor.execute(queries.statement("later_batch", undo.parts),
                       {"batch_id": undo.batch_id, "crm_schema": undo.target.crm_schema})
        later = cursor.fetchone()[0]
        if row and row[1] and row[0] in UNDOABLE and later is None:
            # before anything is written, and before the batch is marked undoing
            preflight.check_plan(undo.target, cursor, row[1], undo=True)
        return (row[0] if row else None), later

    status, later = undo.read(read)
    if status is None:
        raise UndoError(f"no publish batch {undo.batch_id}")
    if status == "undone":
        raise UndoError(f"batch {undo.batch_id} was already undone")
    if status not in UNDOABLE:
        raise UndoError(f"batch {undo.batch_id} is {status}: finish it (publish --apply) first")
    if later is not None:
        raise UndoError(f"batch {later} was applied after {undo.batch_id}: undo it first")


def undo_constraints(undo: Undo) -> None:
    """Constraints and NOT NULL this batch added, newest first."""
    changes = undo.read(lambda cursor: (cursor.execute(sql.SQL(
        "select kind, object_name from {}.schema_changes where batch_id = %s"
        " and kind <> 'add_column' order by change_id desc").format(
        sql.Identifier(PUBLISH_SCHEMA)), (undo.batch_id,)), cursor.fetchall())[1])
    leads = undo.target.crm_table("leads_master")
    for kind, name in changes:
        if kind == "not_null":
            statement = sql.SQL("alter table {} alter column customer_id drop not null").format(
                leads)
        else:
            statement = sql.SQL("alter table {} drop constraint if exists {}").format(
                leads, sql.Identifier(name))
        in_transaction(undo.target, undo.conn, undo.figures, f"undo {kind}",
                       lambda cursor, statement=statement: cursor.execute(statement), kind="ddl")
        undo.result.restored[f"constraint {kind}"] = 1


def undo_archive(undo: Undo) -> None:
    """Archived rows back, leads first (history rows reference them), with the columns both the
    archived row and the table still have."""
    for table, label in (("leads_master", "archived leads_master rows"),
                         ("lead_sources_history", "archived lead_sources_history rows")):
        def read(cursor: psycopg2.extensions.cursor, table: str = table) -> list[str]:
            cursor.execute(queries.statement("archived_keys", undo.parts),
                           {"batch_id": undo.batch_id, "table_name": table})
            keys = {row[0] for row in cursor.fetchall()}
            return [name for name in _columns(cursor, undo.target, table) if name in keys]

        names = undo.read(read)
        if not names:
            continue
        undo.values = {"table_name": table}
        undo.run(label, "undo_archived_rows", archived_table=undo.target.crm_table(table),
                 **_column_lists(names))
        undo.values = {}


def undo_inserted_leads(undo: Undo) -> None:
    undo.run("inserted lead_sources_history rows", "undo_inserted_history")
    others = undo.read(lambda cursor: work.referenced_by(cursor, undo.target, "leads_master"))
    undo.run("inserted leads_master rows", "undo_inserted_leads",
             not_referenced=work.not_referenced(others, sql.Identifier("crm_leads", "id")))


def undo_lead_customers(undo: Undo) -> None:
    """leads_master.customer_id back, in key ranges (row locks stay short)."""
    def build(cursor: psycopg2.extensions.cursor) -> None:
        undo.workspace.create_as(cursor, "w_undo_leads",
                                 queries.statement("work_undo_leads", undo.parts),
                                 {"batch_id": undo.batch_id}, ("lead_id",))
        cursor.execute(sql.SQL(
            "insert into {}.step_progress (batch_id, step) values (%s, 'undo.leads')"
            " on conflict do nothing").format(sql.Identifier(PUBLISH_SCHEMA)), (undo.batch_id,))

    undo.read(build)
    undo.result.restored["leads_master.customer_id"] = run_ranges(
        undo.target, undo.conn, undo.figures, undo.batch_id, "undo.leads",
        undo.workspace.table("w_undo_leads"), "lead_id",
        queries.statement("undo_lead_customers", undo.parts))


def undo_customers(undo: Undo) -> None:
    """Deleted rows back, updated and marked rows restored, inserted rows deleted."""
    names = undo.read(lambda cursor: _columns(cursor, undo.target, "customers"))
    undo.run("deleted customers", "undo_deleted_customers", **_column_lists(names))
    assignments = sql.SQL(", ").join(
        sql.SQL("{column} = case when changes.old_row ? {key} then {value} else {current} end")
        .format(column=sql.Identifier(name), key=sql.Literal(name),
                value=sql.Identifier("record", name),
                current=sql.Identifier("crm_customers", name))
        for name in names if name != "id")
    undo.run("updated customers", "undo_updated_customers", assignments=assignments)
    others = undo.read(lambda cursor: work.referenced_by(cursor, undo.target, "customers",
                                                         skip=("leads_master",)))
    undo.run("inserted customers", "undo_inserted_customers",
             not_referenced=work.not_referenced(others, sql.Identifier("crm_customers", "id")))


def undo_merged_column(undo: Undo) -> None:
    """The merged_into column, when this batch added it and no row uses it any more."""
    target, column = undo.target, sql.Identifier(MERGED_COLUMN)

    def read(cursor: psycopg2.extensions.cursor) -> bool:
        cursor.execute(sql.SQL("select 1 from {}.schema_changes where batch_id = %s"
                               " and kind = 'add_column'").format(sql.Identifier(PUBLISH_SCHEMA)),
                       (undo.batch_id,))
        if cursor.fetchone() is None or not work.has_column(cursor, target, "customers",
                                                             MERGED_COLUMN):
            return False
        cursor.execute(sql.SQL("select not exists (select from {} where {} is not null)").format(
            target.crm_table("customers"), column))
        return bool(cursor.fetchone()[0])

    if undo.read(read):
        in_transaction(target, undo.conn, undo.figures, "undo add_column", lambda cursor:
                       cursor.execute(sql.SQL("alter table {} drop column if exists {}").format(
                           target.crm_table("customers"), column)), kind="ddl")
        undo.result.restored["column merged_into_customer_id"] = 1


def count_kept(undo: Undo) -> None:
    """What could not be restored because the app changed or started to use it."""
    def read(cursor: psycopg2.extensions.cursor) -> tuple:
        cursor.execute(queries.statement("undo_kept", undo.parts), {"batch_id": undo.batch_id})
        return cursor.fetchone()

    leads_kept, customers_kept, inserted_kept = undo.read(read)
    undo.result.kept = {"leads_master.customer_id edited since": int(leads_kept),
                        "inserted customers still referenced": int(customers_kept),
                        "inserted leads still referenced": int(inserted_kept)}


def check_shortfall(undo: Undo) -> None:
    """A restore that still holds the batch's value was filtered, not kept: an error."""
    missing = undo.read(lambda cursor: (cursor.execute(
        queries.statement("undo_shortfall", undo.parts), {"batch_id": undo.batch_id}),
        cursor.fetchone()[0])[1])
    if missing:
        raise UndoError(f"undo of batch {undo.batch_id}: {missing} leads_master.customer_id"
                        " value(s) selected for the restore but not written (a row-level security"
                        " policy or trigger filtered them); the batch is undo_failed: run the undo"
                        " again as the tables' owner or a BYPASSRLS role")


def undo_batch(undo: Undo) -> UndoResult:
    check_undoable(undo)
    ledger.set_status(undo.conn, undo.batch_id, "undoing")
    try:
        undo_constraints(undo)
        undo.run("sources counters", "undo_counters")
        undo_archive(undo)
        undo_inserted_leads(undo)
        undo_lead_customers(undo)
        undo_customers(undo)
        undo_merged_column(undo)
        check_shortfall(undo)
        count_kept(undo)
    except BaseException as error:
        undo.conn.rollback()
        ledger.set_status(undo.conn, undo.batch_id, "undo_failed",
                          error=f"{type(error).__name__}: {error}"[:2000])
        raise
    ledger.set_status(undo.conn, undo.batch_id, "undone")
    return undo.result

"""`leadlink publish --undo BATCH`: put back what one apply changed, from its audit rows, newest
change first: constraints dropped, counters, archived rows, inserted history rows and leads,
customer_id values, customer rows, and the merged_into column.

Every restore is compare-and-set as well: a value is put back only while it still holds what the
batch wrote, so an edit the app made after the apply is not undone either (it is counted and
reported as kept). Without such edits the CRM tables end exactly as they were before the apply.
Each part is idempotent, so an interrupted undo is simply run again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import psycopg2.extensions

from leadlink.crm.publish import work
from leadlink.crm.publish.batches import Figures, in_transaction, run_ranges
from leadlink.crm.publish.steps import MERGED_COLUMN
from leadlink.crm.publish.target import PublishTarget

log = logging.getLogger("leadlink.publish.undo")


class UndoError(RuntimeError):
    pass


@dataclass
class UndoResult:
    batch_id: int
    restored: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"batch_id": self.batch_id, "restored": self.restored, "kept": self.kept}


def _columns(cursor: psycopg2.extensions.cursor, qualified: str) -> list[str]:
    cursor.execute("select attname from pg_attribute where attrelid = to_regclass(%s)"
                   " and attnum > 0 and not attisdropped order by attnum", (qualified,))
    return [row[0] for row in cursor.fetchall()]


RESTORE_LEAD_CUSTOMERS = """
with changes as (
    select distinct on (lead_id) lead_id, old_customer_id, new_customer_id
    from w_undo_leads
    where lead_id > %(low)s and lead_id <= %(high)s
    order by lead_id
)
update {crm}.leads_master as lm
set customer_id = changes.old_customer_id
from changes
where lm.id = changes.lead_id and lm.customer_id is not distinct from changes.new_customer_id
"""


def undo_batch(target: PublishTarget, conn: psycopg2.extensions.connection,
               batch_id: int, figures: Figures) -> UndoResult:
    result = UndoResult(batch_id)
    crm = target.sql("{crm}")
    with conn.cursor() as cursor:
        cursor.execute(target.sql("select status from {pub}.batches where batch_id = %s"),
                       (batch_id,))
        row = cursor.fetchone()
        if row is None:
            raise UndoError(f"no publish batch {batch_id}")
        if row[0] == "undone":
            raise UndoError(f"batch {batch_id} was already undone")
        cursor.execute(target.sql("""
            select max(batches.batch_id) from {pub}.batches as batches
            where batches.batch_id > %(batch)s and batches.status <> 'undone'
                and (exists (select from {pub}.customer_changes as x
                             where x.batch_id = batches.batch_id)
                     or exists (select from {pub}.lead_customer_changes as x
                                where x.batch_id = batches.batch_id)
                     or exists (select from {pub}.inserted_leads as x
                                where x.batch_id = batches.batch_id)
                     or exists (select from {pub}.inserted_history as x
                                where x.batch_id = batches.batch_id)
                     or exists (select from {pub}.archived_rows as x
                                where x.batch_id = batches.batch_id)
                     or exists (select from {pub}.schema_changes as x
                                where x.batch_id = batches.batch_id))
        """), {"batch": batch_id})
        later = cursor.fetchone()[0]
        if later is not None:
            raise UndoError(f"batch {later} was applied after {batch_id}: undo it first")
        cursor.execute(target.sql(
            "update {pub}.batches set status = 'undoing' where batch_id = %s"), (batch_id,))
        lead_columns = _columns(cursor, f"{crm}.leads_master")
        customer_columns = _columns(cursor, f"{crm}.customers")
    conn.commit()

    def run(label: str, statement: str, params: tuple = ()) -> int:
        def body(cursor: psycopg2.extensions.cursor) -> int:
            cursor.execute(target.sql(statement), params)
            return max(cursor.rowcount, 0)

        count = in_transaction(target, conn, figures, f"undo {label}", body)
        result.restored[label] = result.restored.get(label, 0) + count
        return count

    # 1. constraints, newest first
    with conn.cursor() as cursor:
        cursor.execute(target.sql(
            "select kind, object_name from {pub}.schema_changes where batch_id = %s"
            " and kind <> 'add_column' order by change_id desc"), (batch_id,))
        changes = cursor.fetchall()
    conn.commit()
    for kind, name in changes:
        if kind == "not_null":
            statement = "alter table {crm}.leads_master alter column customer_id drop not null"
        else:
            statement = f"alter table {{crm}}.leads_master drop constraint if exists {name}"
        in_transaction(target, conn, figures, f"undo {kind}",
                       lambda cursor, statement=statement: cursor.execute(
                           target.sql(statement)), kind="ddl")
        result.restored[f"constraint {kind}"] = 1

    # 2. counters
    run("sources counters", """
        update {crm}.sources as sources
        set total_leads_count = changes.old_total_leads_count,
            todays_leads_count = changes.old_todays_leads_count
        from {pub}.source_counter_changes as changes
        where changes.batch_id = %s and sources.id = changes.source_id
            and (sources.total_leads_count, sources.todays_leads_count) is not distinct from
                (changes.new_total_leads_count, changes.new_todays_leads_count)
    """, (batch_id,))

    # 3. archived rows back (leads first: history rows reference them)
    lead_list = ", ".join(f'"{name}"' for name in lead_columns)
    run("archived leads_master rows", f"""
        with restored as (
            update {{pub}}.archived_rows set restored_at = clock_timestamp()
            where batch_id = %s and table_name = 'leads_master' and restored_at is null
            returning row_data
        )
        insert into {{crm}}.leads_master ({lead_list}) overriding system value
        select {', '.join(f'record."{name}"' for name in lead_columns)}
        from restored
        cross join lateral jsonb_populate_record(null::{{crm}}.leads_master, restored.row_data)
            as record
    """, (batch_id,))
    with conn.cursor() as cursor:
        history_columns = _columns(cursor, f"{crm}.lead_sources_history")
    conn.commit()
    history_list = ", ".join(f'"{name}"' for name in history_columns)
    run("archived lead_sources_history rows", f"""
        with restored as (
            update {{pub}}.archived_rows set restored_at = clock_timestamp()
            where batch_id = %s and table_name = 'lead_sources_history' and restored_at is null
            returning row_data
        )
        insert into {{crm}}.lead_sources_history ({history_list})
        select {', '.join(f'record."{name}"' for name in history_columns)}
        from restored
        cross join lateral jsonb_populate_record(
            null::{{crm}}.lead_sources_history, restored.row_data) as record
    """, (batch_id,))

    # 4. inserted history rows and leads
    run("inserted lead_sources_history rows", """
        delete from {crm}.lead_sources_history as history
        using {pub}.inserted_history as inserted
        where inserted.batch_id = %s and history.lead_id = inserted.lead_id
            and history.external_id = inserted.external_id
            and history.source_id is not distinct from inserted.source_id
    """, (batch_id,))
    with conn.cursor() as cursor:
        others = work.referenced_by(cursor, target.crm_schema, "leads_master")
    conn.commit()
    run("inserted leads_master rows", f"""
        delete from {{crm}}.leads_master as lm
        using {{pub}}.inserted_leads as inserted
        where inserted.batch_id = %s and lm.id = inserted.lead_id
            and {work.not_referenced(others, 'lm.id')}
    """, (batch_id,))

    # 5. leads_master.customer_id, in key ranges (row locks stay short)
    def build_undo_leads(cursor: psycopg2.extensions.cursor) -> None:
        cursor.execute("drop table if exists w_undo_leads")
        cursor.execute(target.sql(
            "create temp table w_undo_leads as select lead_id, old_customer_id, new_customer_id"
            " from {pub}.lead_customer_changes where batch_id = %s"), (batch_id,))
        cursor.execute("create index on w_undo_leads (lead_id)")
        cursor.execute("analyze w_undo_leads")

    with conn.cursor() as cursor:
        build_undo_leads(cursor)
        cursor.execute(target.sql(
            "insert into {pub}.step_progress (batch_id, step) values (%s, 'undo.leads')"
            " on conflict do nothing"), (batch_id,))
    conn.commit()
    result.restored["leads_master.customer_id"] = run_ranges(
        target, conn, figures, batch_id, "undo.leads", "w_undo_leads", "lead_id",
        target.sql(RESTORE_LEAD_CUSTOMERS))

    # 6. customers: deleted rows back, updated and marked rows restored, inserted rows deleted
    customer_list = ", ".join(f'"{name}"' for name in customer_columns)
    run("deleted customers", f"""
        insert into {{crm}}.customers ({customer_list}) overriding system value
        select {', '.join(f'record."{name}"' for name in customer_columns)}
        from {{pub}}.customer_changes as changes
        cross join lateral jsonb_populate_record(null::{{crm}}.customers, changes.old_row)
            as record
        where changes.batch_id = %s and changes.action = 'delete'
            and not exists (select from {{crm}}.customers as c where c.id = changes.customer_id)
    """, (batch_id,))
    settable = [name for name in customer_columns if name != "id"]
    run("updated customers", f"""
        update {{crm}}.customers as c
        set ({', '.join(f'"{name}"' for name in settable)}) = (
            select {', '.join(f'record."{name}"' for name in settable)}
            from jsonb_populate_record(null::{{crm}}.customers, changes.old_row) as record
        )
        from {{pub}}.customer_changes as changes
        where changes.batch_id = %s and changes.action in ('update', 'mark_merged')
            and c.id = changes.customer_id and to_jsonb(c) = changes.new_row
    """, (batch_id,))
    run("inserted customers", f"""
        delete from {{crm}}.customers as c
        using {{pub}}.customer_changes as changes
        where changes.batch_id = %s and changes.action = 'insert' and c.id = changes.customer_id
            and not exists (select from {{crm}}.leads_master as lm where lm.customer_id = c.id)
            and {work.not_referenced(work_refs(target, conn), 'c.id')}
    """, (batch_id,))

    # 7. the merged_into column, when this batch added it and no row uses it any more
    with conn.cursor() as cursor:
        cursor.execute(target.sql(
            "select 1 from {pub}.schema_changes where batch_id = %s and kind = 'add_column'"),
            (batch_id,))
        added = cursor.fetchone() is not None
        still_used = False
        if added and work.has_column(cursor, target.crm_schema, "customers", MERGED_COLUMN):
            cursor.execute(target.sql(
                f"select exists (select from {{crm}}.customers where {MERGED_COLUMN}"
                " is not null)"))
            still_used = bool(cursor.fetchone()[0])
    conn.commit()
    if added and not still_used:
        in_transaction(target, conn, figures, "undo add_column", lambda cursor: cursor.execute(
            target.sql(f"alter table {{crm}}.customers drop column if exists {MERGED_COLUMN}")),
            kind="ddl")
        result.restored["column merged_into_customer_id"] = 1

    # what could not be restored because the app changed it after the apply
    with conn.cursor() as cursor:
        cursor.execute(target.sql("""
            select
                (select count(*) from {pub}.lead_customer_changes as changes
                 inner join {crm}.leads_master as lm on lm.id = changes.lead_id
                 where changes.batch_id = %(batch)s
                     and lm.customer_id is distinct from changes.old_customer_id),
                (select count(*) from {pub}.customer_changes as changes
                 inner join {crm}.customers as c on c.id = changes.customer_id
                 where changes.batch_id = %(batch)s and changes.action = 'insert'),
                (select count(*) from {pub}.inserted_leads as inserted
                 inner join {crm}.leads_master as lm on lm.id = inserted.lead_id
                 where inserted.batch_id = %(batch)s)
        """), {"batch": batch_id})
        leads_kept, customers_kept, inserted_kept = cursor.fetchone()
        result.kept = {"leads_master.customer_id edited since": int(leads_kept),
                       "inserted customers still referenced": int(customers_kept),
                       "inserted leads still referenced": int(inserted_kept)}
        cursor.execute(target.sql(
            "update {pub}.batches set status = 'undone', undone_at = clock_timestamp()"
            " where batch_id = %s"), (batch_id,))
    conn.commit()
    return result


def work_refs(target: PublishTarget, conn: psycopg2.extensions.connection) -> list:
    with conn.cursor() as cursor:
        references = work.referenced_by(
            cursor, target.crm_schema, "customers",
            skip=(f"{target.sql('{crm}')}.leads_master",))
    conn.commit()
    return references

"""`publish --apply`: the steps, in order, each idempotent (compare-and-set, not-exists) and written in
key ranges of the work tables, one short transaction per range that also records the step's
progress in leadlink_publish.step_progress and what it changed in the audit tables."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg2.extensions

from leadlink.crm.publish import work
from leadlink.crm.publish.batches import Figures, in_transaction, run_ranges
from leadlink.crm.publish.target import PublishTarget

log = logging.getLogger("leadlink.publish.steps")

MERGED_COLUMN = "merged_into_customer_id"


@dataclass(frozen=True)
class ApplyOptions:
    delete_merged: bool = False
    archive_unlinkable: bool = False

    def as_dict(self) -> dict[str, bool]:
        return {"delete_merged": self.delete_merged, "archive_unlinkable": self.archive_unlinkable}


class Step:
    """Bookkeeping of one step in step_progress: skipped when a resumed batch finished it."""

    def __init__(self, target: PublishTarget, conn: psycopg2.extensions.connection,
                 figures: Figures, batch_id: int) -> None:
        self.target, self.conn, self.figures, self.batch_id = target, conn, figures, batch_id

    def run(self, name: str, body: Callable[[], int]) -> None:
        with self.conn.cursor() as cursor:
            cursor.execute(self.target.sql(
                "insert into {pub}.step_progress (batch_id, step) values (%s, %s)"
                " on conflict (batch_id, step) do nothing"), (self.batch_id, name))
            cursor.execute(self.target.sql(
                "select done from {pub}.step_progress where batch_id = %s and step = %s"),
                (self.batch_id, name))
            done = cursor.fetchone()[0]
        self.conn.commit()
        if done:
            log.info("step %s: already done in batch %s", name, self.batch_id)
            return
        started = time.perf_counter()
        rows = body()
        self.figures.step_seconds[name] = self.figures.step_seconds.get(name, 0.0) + (
            time.perf_counter() - started)
        self.figures.rows[name] = self.figures.rows.get(name, 0) + rows
        with self.conn.cursor() as cursor:
            cursor.execute(self.target.sql(
                "update {pub}.step_progress set done = true, finished_at = clock_timestamp()"
                " where batch_id = %s and step = %s"), (self.batch_id, name))
        self.conn.commit()
        log.info("step %s: %d row(s)", name, rows)


# --- step 1: customers -------------------------------------------------------------------------
INSERT_CUSTOMERS = """
with inserted as (
    insert into {crm}.customers as c
        (id, phone_number_normalized, full_name, email, city, created_at, updated_at)
    overriding system value
    select w.customer_id, w.phone_e164, w.full_name, w.email, w.city, now(), now()
    from w_customer_inserts as w
    where w.customer_id > %(low)s and w.customer_id <= %(high)s
    on conflict do nothing
    returning c.id, to_jsonb(c) as new_row
)
insert into {pub}.customer_changes (batch_id, customer_id, action, new_row)
select %(batch_id)s, inserted.id, 'insert', inserted.new_row from inserted
"""

UPDATE_CUSTOMERS = """
with before_rows as (
    select c.id, to_jsonb(c) as old_row
    from {crm}.customers as c
    inner join w_customer_updates as s on s.customer_id = c.id
    where s.customer_id > %(low)s and s.customer_id <= %(high)s and s.cas_ok
        and """ + work.CUSTOMER_NOW + " is not distinct from " + work.CUSTOMER_BASE + """
        and not exists (
            select from {crm}.customers as other
            where other.phone_number_normalized = s.new_phone and other.id <> c.id
        )
    for update of c
),
updated as (
    update {crm}.customers as c
    set phone_number_normalized = s.new_phone, full_name = s.new_full_name,
        email = s.new_email, city = s.new_city, updated_at = now()
    from before_rows
    inner join w_customer_updates as s on s.customer_id = before_rows.id
    where c.id = before_rows.id
    returning c.id, before_rows.old_row, to_jsonb(c) as new_row
)
insert into {pub}.customer_changes (batch_id, customer_id, action, old_row, new_row)
select %(batch_id)s, updated.id, 'update', updated.old_row, updated.new_row from updated
"""

MARK_MERGED = """
with before_rows as (
    select c.id, to_jsonb(c) as old_row
    from {crm}.customers as c
    inner join w_merges as m on m.merged_customer_id = c.id
    where m.merged_customer_id > %(low)s and m.merged_customer_id <= %(high)s
        and c.merged_into_customer_id is null
    for update of c
),
updated as (
    update {crm}.customers as c
    set merged_into_customer_id = m.surviving_customer_id
    from before_rows
    inner join w_merges as m on m.merged_customer_id = before_rows.id
    where c.id = before_rows.id
    returning c.id, before_rows.old_row, to_jsonb(c) as new_row
)
insert into {pub}.customer_changes (batch_id, customer_id, action, old_row, new_row)
select %(batch_id)s, updated.id, 'mark_merged', updated.old_row, updated.new_row from updated
"""

DELETE_MERGED = """
with deleted as (
    delete from {crm}.customers as c
    using w_delete_merged as w
    where c.id = w.customer_id and w.customer_id > %(low)s and w.customer_id <= %(high)s
        and c.merged_into_customer_id is not null
        and not exists (select from {crm}.leads_master as lm where lm.customer_id = c.id)
        and {not_referenced}
    returning c.id, to_jsonb(c) as old_row
)
insert into {pub}.customer_changes (batch_id, customer_id, action, old_row)
select %(batch_id)s, deleted.id, 'delete', deleted.old_row from deleted
"""

# --- step 2: leads_master.customer_id ----------------------------------------------------------
LINK_LEADS = """
with updated as (
    update {crm}.leads_master as lm
    set customer_id = w.new_customer_id
    from w_lead_links as w
    where w.lead_id > %(low)s and w.lead_id <= %(high)s and w.cas_ok and lm.id = w.lead_id
        and lm.customer_id is not distinct from w.base_customer_id
    returning lm.id, w.base_customer_id as old_customer_id, w.new_customer_id
)
insert into {pub}.lead_customer_changes (batch_id, lead_id, old_customer_id, new_customer_id)
select %(batch_id)s, updated.id, updated.old_customer_id, updated.new_customer_id from updated
"""

REPOINT_LEADS = """
with updated as (
    update {crm}.leads_master as lm
    set customer_id = w.new_customer_id
    from w_repoint as w
    where w.lead_id > %(low)s and w.lead_id <= %(high)s and lm.id = w.lead_id
        and lm.customer_id = w.current_customer_id
    returning lm.id, w.current_customer_id, w.new_customer_id
)
insert into {pub}.lead_customer_changes (batch_id, lead_id, old_customer_id, new_customer_id)
select %(batch_id)s, updated.id, updated.current_customer_id, updated.new_customer_id from updated
"""

# --- step 3: new leads, history rows, counters -------------------------------------------------
INSERT_LEADS = """
with inserted as (
    insert into {crm}.leads_master as lm
        (full_name, phone_number_normalized, source_id, external_lead_id, status, raw_payload,
         branch_id, customer_id, created_at, updated_at)
    select w.full_name, w.phone_e164, w.source_id, w.external_lead_id, w.status, w.raw_payload,
        w.branch_id, w.customer_id, coalesce(w.created_at, now()), now()
    from w_new_leads as w
    where w.seq > %(low)s and w.seq <= %(high)s
        and not exists (
            select from {crm}.leads_master as taken
            where taken.external_lead_id = w.external_lead_id
        )
    order by w.seq
    returning lm.id, lm.external_lead_id
)
insert into {pub}.inserted_leads (batch_id, lead_id, external_lead_id)
select %(batch_id)s, inserted.id, inserted.external_lead_id from inserted
"""

INSERT_HISTORY = """
with inserted as (
    insert into {crm}.lead_sources_history as history
        (lead_id, source_id, external_id, raw_payload, received_at, is_primary)
    select w.lead_id, w.source_id, w.external_id, w.raw_payload, w.received_at, false
    from w_history as w
    where w.seq > %(low)s and w.seq <= %(high)s and w.lead_id is not null
        and not exists (
            select from {crm}.lead_sources_history as taken
            where taken.lead_id = w.lead_id and taken.external_id = w.external_id
        )
    returning history.lead_id, history.source_id, history.external_id
)
insert into {pub}.inserted_history (batch_id, lead_id, source_id, external_id)
select %(batch_id)s, inserted.lead_id, inserted.source_id, inserted.external_id from inserted
"""

# "today" is cut in India time: the dealers' day.
RECOUNT_SOURCES = """
with counted as (
    select
        sources.id,
        coalesce(agg.total, 0)::integer as total,
        coalesce(agg.today, 0)::integer as today
    from {crm}.sources as sources
    left join (
        select
            source_id,
            count(*) as total,
            count(*) filter (
                where created_at >= (date_trunc('day', now() at time zone 'Asia/Kolkata')
                                     at time zone 'Asia/Kolkata')
            ) as today
        from {crm}.leads_master
        group by source_id
    ) as agg on agg.source_id = sources.id
),
before_rows as (
    select sources.id, sources.total_leads_count, sources.todays_leads_count
    from {crm}.sources as sources
    inner join counted on counted.id = sources.id
    where (sources.total_leads_count, sources.todays_leads_count)
        is distinct from (counted.total, counted.today)
    for update of sources
),
updated as (
    update {crm}.sources as sources
    set total_leads_count = counted.total, todays_leads_count = counted.today
    from before_rows
    inner join counted on counted.id = before_rows.id
    where sources.id = before_rows.id
    returning sources.id, before_rows.total_leads_count as old_total,
        before_rows.todays_leads_count as old_today, sources.total_leads_count as new_total,
        sources.todays_leads_count as new_today
)
insert into {pub}.source_counter_changes
    (batch_id, source_id, old_total_leads_count, old_todays_leads_count,
     new_total_leads_count, new_todays_leads_count)
select %(batch_id)s, updated.id, updated.old_total, updated.old_today, updated.new_total,
    updated.new_today
from updated
"""

# --- archive (before the constraints) ----------------------------------------------------------
ARCHIVE_LEADS = """
with moving as (
    select w.lead_id, w.reason
    from w_archive as w
    inner join {crm}.leads_master as lm on lm.id = w.lead_id
    where w.lead_id > %(low)s and w.lead_id <= %(high)s and lm.customer_id is null
),
history as (
    delete from {crm}.lead_sources_history as history
    using moving
    where history.lead_id = moving.lead_id
    returning history.lead_id, to_jsonb(history) as row_data
),
archived_history as (
    insert into {pub}.archived_rows (batch_id, table_name, row_id, row_data, reason)
    select %(batch_id)s, 'lead_sources_history', history.lead_id, history.row_data,
        'moved with its unlinkable lead'
    from history
),
leads as (
    delete from {crm}.leads_master as lm
    using moving
    where lm.id = moving.lead_id and lm.customer_id is null
    returning lm.id, to_jsonb(lm) as row_data, moving.reason
)
insert into {pub}.archived_rows (batch_id, table_name, row_id, row_data, reason)
select %(batch_id)s, 'leads_master', leads.id, leads.row_data, leads.reason from leads
"""


def _ranges(runner: Step, name: str, table: str, key: str, statement: str) -> int:
    return run_ranges(runner.target, runner.conn, runner.figures, runner.batch_id, name, table,
                      key, runner.target.sql(statement))


def _with_cursor(conn: psycopg2.extensions.connection, body: Callable) -> object:
    with conn.cursor() as cursor:
        result = body(cursor)
    conn.commit()
    return result


def add_merged_column(runner: Step) -> int:
    target = runner.target

    def ddl(cursor: psycopg2.extensions.cursor) -> int:
        if work.has_column(cursor, target.crm_schema, "customers", MERGED_COLUMN):
            return 0
        cursor.execute(target.sql(
            f"alter table {{crm}}.customers add column {MERGED_COLUMN} bigint"))
        cursor.execute(target.sql(
            f"comment on column {{crm}}.customers.{MERGED_COLUMN} is 'leadlink publish: this row"
            " is the same person as that customer (the survivor); its leads point there'"))
        cursor.execute(target.sql(
            "insert into {pub}.schema_changes (batch_id, table_name, kind, object_name)"
            " values (%s, 'customers', 'add_column', %s)"), (runner.batch_id, MERGED_COLUMN))
        return 1

    return in_transaction(target, runner.conn, runner.figures, "add customers column", ddl,
                          kind="ddl")


def apply_steps(target: PublishTarget, conn: psycopg2.extensions.connection, batch_id: int,
                options: ApplyOptions, figures: Figures) -> None:
    """Steps 1-3 and the archive; constraints.apply_constraints runs after."""
    runner = Step(target, conn, figures, batch_id)

    # 1. customers
    def has_merges() -> bool:
        return bool(_with_cursor(conn, lambda cursor: (
            cursor.execute("select exists (select from pub_merges)"), cursor.fetchone()[0])[1]))

    runner.run("1.customers.add_merged_column", lambda: add_merged_column(runner)
               if has_merges() else 0)
    merged_column = bool(_with_cursor(conn, lambda cursor: work.has_column(
        cursor, target.crm_schema, "customers", MERGED_COLUMN)))
    _with_cursor(conn, lambda cursor: work.build_customer_work(target, cursor, merged_column))
    runner.run("1.customers.insert", lambda: _ranges(
        runner, "1.customers.insert", "w_customer_inserts", "customer_id", INSERT_CUSTOMERS))
    runner.run("1.customers.update", lambda: _ranges(
        runner, "1.customers.update", "w_customer_updates", "customer_id", UPDATE_CUSTOMERS))
    if merged_column:
        runner.run("1.customers.mark_merged", lambda: _ranges(
            runner, "1.customers.mark_merged", "w_merges", "merged_customer_id", MARK_MERGED))

    # 2. leads_master.customer_id (targets re-resolved: the app may have taken a phone meanwhile)
    _with_cursor(conn, lambda cursor: work.build_customer_targets(target, cursor))
    _with_cursor(conn, lambda cursor: work.build_lead_work(target, cursor))
    runner.run("2.leads.link", lambda: _ranges(
        runner, "2.leads.link", "w_lead_links", "lead_id", LINK_LEADS))
    runner.run("2.leads.repoint_merged", lambda: _ranges(
        runner, "2.leads.repoint_merged", "w_repoint", "lead_id", REPOINT_LEADS))

    # 1b. merged duplicates deleted only on request, once nothing references them
    if options.delete_merged and merged_column:
        def delete_merged() -> int:
            def build(cursor: psycopg2.extensions.cursor) -> str:
                others = work.referenced_by(cursor, target.crm_schema, "customers")
                condition = work.not_referenced(others, "c.id")
                cursor.execute("drop table if exists w_delete_merged")
                cursor.execute(target.sql(f"""
                    create temp table w_delete_merged as
                    select c.id as customer_id from {{crm}}.customers as c
                    where c.{MERGED_COLUMN} is not null
                        and not exists (select from {{crm}}.leads_master as lm
                                        where lm.customer_id = c.id)
                        and {condition}
                """))
                return condition

            condition = _with_cursor(conn, build)
            return _ranges(runner, "1.customers.delete_merged", "w_delete_merged", "customer_id",
                           DELETE_MERGED.replace("{not_referenced}", condition.replace(
                               "{", "{{").replace("}", "}}")))

        runner.run("1.customers.delete_merged", delete_merged)

    # 3. new leads (case A) and history rows (case C)
    _with_cursor(conn, lambda cursor: work.build_new_lead_work(target, cursor))
    runner.run("3.leads.insert_new", lambda: _ranges(
        runner, "3.leads.insert_new", "w_new_leads", "seq", INSERT_LEADS))
    _with_cursor(conn, lambda cursor: work.build_new_lead_work(target, cursor))
    runner.run("3.history.insert", lambda: _ranges(
        runner, "3.history.insert", "w_history", "seq", INSERT_HISTORY))

    # archive unlinkable leads (only on request): NOT NULL needs them out of the table
    if options.archive_unlinkable:
        _with_cursor(conn, lambda cursor: work.build_archive_work(target, cursor))
        runner.run("3.leads.archive_unlinkable", lambda: _ranges(
            runner, "3.leads.archive_unlinkable", "w_archive", "lead_id", ARCHIVE_LEADS))

    # counters last: they count what the steps above inserted and archived
    def recount() -> int:
        def body(cursor: psycopg2.extensions.cursor) -> int:
            cursor.execute(target.sql(RECOUNT_SOURCES), {"batch_id": batch_id})
            return max(cursor.rowcount, 0)

        return in_transaction(target, conn, figures, "recount sources", body)

    runner.run("3.sources.recount", recount)


def start_batch(target: PublishTarget, conn: psycopg2.extensions.connection,
                options: ApplyOptions, plan: dict) -> tuple[int, bool]:
    """Resume the latest batch when it did not finish, else open a new one. (batch_id, resumed)"""
    with conn.cursor() as cursor:
        cursor.execute(target.sql(
            "select batch_id from {pub}.batches where crm_schema = %s"
            " and status in ('running', 'failed') order by batch_id desc limit 1"),
            (target.crm_schema,))
        row = cursor.fetchone()
        if row is not None:
            cursor.execute(target.sql(
                "update {pub}.batches set status = 'running' where batch_id = %s"), (row[0],))
            conn.commit()
            return int(row[0]), True
        cursor.execute(target.sql(
            "insert into {pub}.batches (crm_schema, options, plan) values (%s, %s, %s)"
            " returning batch_id"),
            (target.crm_schema, json.dumps(options.as_dict()), json.dumps(plan, default=str)))
        batch_id = int(cursor.fetchone()[0])
    conn.commit()
    return batch_id, False


def finish_batch(target: PublishTarget, conn: psycopg2.extensions.connection, batch_id: int,
                 status: str, figures: Figures) -> None:
    with conn.cursor() as cursor:
        cursor.execute(target.sql(
            "update {pub}.batches set status = %s, finished_at = clock_timestamp(),"
            " figures = %s where batch_id = %s"),
            (status, json.dumps(figures.as_dict()), batch_id))
    conn.commit()

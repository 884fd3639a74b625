-- leadlink publish: progress and audit of every write into the CRM's tables, so an apply can be
-- resumed and undone. Lives in its own schema `leadlink_publish`, in the database that holds the
-- CRM tables: this migration creates it in leadlink's database (the CRM's, by default); when
-- LEADLINK_CRM_DATABASE_URL names another database, `leadlink publish --apply` runs this same file
-- there. Every statement is idempotent (`if not exists`) for that reason. ({raw_schema} unused.)

create schema if not exists leadlink_publish;

-- One row per `publish --apply` (and its undo).
create table if not exists leadlink_publish.batches (
    batch_id bigint generated always as identity primary key,
    crm_schema text not null,
    options jsonb not null default '{}'::jsonb,
    plan jsonb,
    status text not null default 'running'
        check (status in ('running', 'applied', 'failed', 'undoing', 'undone')),
    started_at timestamptz not null default clock_timestamp(),
    finished_at timestamptz,
    undone_at timestamptz,
    figures jsonb not null default '{}'::jsonb
);

-- Progress per step: a resumed apply skips finished steps and continues after `last_key`.
create table if not exists leadlink_publish.step_progress (
    batch_id bigint not null references leadlink_publish.batches (batch_id),
    step text not null,
    last_key bigint,
    rows_changed bigint not null default 0,
    done boolean not null default false,
    started_at timestamptz not null default clock_timestamp(),
    finished_at timestamptz,
    primary key (batch_id, step)
);

-- customers rows the batch inserted, updated, marked as merged or deleted: the whole previous row.
create table if not exists leadlink_publish.customer_changes (
    batch_id bigint not null references leadlink_publish.batches (batch_id),
    customer_id bigint not null,
    action text not null check (action in ('insert', 'update', 'mark_merged', 'delete')),
    old_row jsonb,
    new_row jsonb,
    changed_at timestamptz not null default clock_timestamp()
);
create index if not exists customer_changes_batch
    on leadlink_publish.customer_changes (batch_id, action, customer_id);

-- leads_master.customer_id values the batch set (old value kept for undo).
create table if not exists leadlink_publish.lead_customer_changes (
    batch_id bigint not null references leadlink_publish.batches (batch_id),
    lead_id bigint not null,
    old_customer_id bigint,
    new_customer_id bigint,
    changed_at timestamptz not null default clock_timestamp()
);
create index if not exists lead_customer_changes_batch
    on leadlink_publish.lead_customer_changes (batch_id, lead_id);

-- leads_master and lead_sources_history rows the batch inserted.
create table if not exists leadlink_publish.inserted_leads (
    batch_id bigint not null references leadlink_publish.batches (batch_id),
    lead_id bigint not null,
    external_lead_id text not null,
    inserted_at timestamptz not null default clock_timestamp()
);
create index if not exists inserted_leads_batch
    on leadlink_publish.inserted_leads (batch_id, lead_id);
create table if not exists leadlink_publish.inserted_history (
    batch_id bigint not null references leadlink_publish.batches (batch_id),
    lead_id bigint not null,
    source_id bigint,
    external_id text not null,
    inserted_at timestamptz not null default clock_timestamp()
);
create index if not exists inserted_history_batch
    on leadlink_publish.inserted_history (batch_id, lead_id);

-- sources counters before and after the recount.
create table if not exists leadlink_publish.source_counter_changes (
    batch_id bigint not null references leadlink_publish.batches (batch_id),
    source_id bigint not null,
    old_total_leads_count integer,
    old_todays_leads_count integer,
    new_total_leads_count integer,
    new_todays_leads_count integer
);

-- Rows moved out of the CRM tables by --archive-unlinkable (whole rows; undo puts them back).
create table if not exists leadlink_publish.archived_rows (
    batch_id bigint not null references leadlink_publish.batches (batch_id),
    table_name text not null,
    row_id bigint,
    row_data jsonb not null,
    reason text,
    archived_at timestamptz not null default clock_timestamp(),
    restored_at timestamptz
);
create index if not exists archived_rows_batch
    on leadlink_publish.archived_rows (batch_id, table_name, row_id);

-- Schema changes the batch made (columns, constraints), in order; undo reverts them backwards.
create table if not exists leadlink_publish.schema_changes (
    change_id bigint generated always as identity primary key,
    batch_id bigint not null references leadlink_publish.batches (batch_id),
    table_name text not null,
    kind text not null check (kind in ('add_column', 'foreign_key', 'check', 'not_null')),
    object_name text not null,
    changed_at timestamptz not null default clock_timestamp()
);

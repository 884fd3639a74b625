-- leadlink publish behind a transaction pooler, and undo that can be resumed: an undo that fails
-- leaves its batch `undo_failed` (the next --undo runs it again), never stuck in `undoing`; the
-- external ids publish inserted are looked up by key (what changed since the last publish); a
-- record of which of these files ran, so a role without CREATE can publish into a database an
-- owner prepared. Idempotent, like 004: `publish --apply` runs it in a separate CRM database too.
-- ({raw_schema} unused.)

create table if not exists leadlink_publish.publish_migrations (
    name text primary key,
    applied_at timestamptz not null default clock_timestamp()
);

alter table leadlink_publish.batches drop constraint if exists batches_status_check;
alter table leadlink_publish.batches add constraint batches_status_check
    check (status in ('running', 'applied', 'failed', 'undoing', 'undo_failed', 'undone'));

create index if not exists inserted_leads_external
    on leadlink_publish.inserted_leads (external_lead_id);
create index if not exists inserted_history_external
    on leadlink_publish.inserted_history (external_id);

insert into leadlink_publish.publish_migrations (name)
values ('004_publish.sql'), ('007_publish_pooler.sql')
on conflict (name) do nothing;

-- Scheduled API loads: one cursor per source and scope (Knowlarity: the call log; Meta: one per
-- lead form). A cursor moves in the same transaction as the records it covers, and never backwards.

create table {raw_schema}.load_cursors (
    source text not null,
    scope text not null,
    cursor_at timestamptz not null,
    updated_at timestamptz not null default clock_timestamp(),
    batch_id bigint references {raw_schema}.load_batches (batch_id),
    primary key (source, scope)
);
comment on table {raw_schema}.load_cursors is
    'High-water mark of each scheduled pull (source, scope): everything created before cursor_at '
    'has landed. Runs re-read from cursor_at minus a look-back window.';

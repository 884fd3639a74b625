-- Locks as rows with a lease, not session advisory locks: a transaction pooler (Supabase's on
-- port 6543, PgBouncer in transaction mode) hands a session's backend to other clients between
-- transactions, so a session lock would be held by, or released for, the wrong client. A holder
-- renews its lease while it works; a crashed holder's lock is free once its lease has run out.

create table {raw_schema}.locks (
    lock_name text primary key,
    holder text not null,
    acquired_at timestamptz not null default clock_timestamp(),
    lease_until timestamptz not null
);
comment on table {raw_schema}.locks is
    'Named leadlink locks (a source''s load, the build, publish). A row is held while lease_until '
    'is in the future; the holder renews it, a crashed holder''s row expires.';

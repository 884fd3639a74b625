-- Raw landing: append-only tables that keep every delivered payload verbatim (jsonb), one row per
-- distinct version of a record. Landing the same payload twice adds nothing; a changed version of a
-- record is a new row, and staging reads the latest one.

create table {raw_schema}.load_batches (
    batch_id bigint generated always as identity primary key,
    source text not null,
    method text not null,
    started_at timestamptz not null default clock_timestamp(),
    finished_at timestamptz,
    status text not null default 'running'
        check (status in ('running', 'succeeded', 'failed')),
    records_seen bigint not null default 0,
    records_landed bigint not null default 0,
    records_already_present bigint not null default 0,
    records_quarantined bigint not null default 0,
    detail jsonb not null default '{}'::jsonb
);
comment on table {raw_schema}.load_batches is 'One row per load run (file, API pull, webhook).';

create table {raw_schema}.knowlarity_calls (
    raw_id bigint generated always as identity primary key,
    call_uuid text not null,
    payload jsonb not null,
    payload_shape text not null,
    payload_md5 text not null,
    batch_id bigint not null references {raw_schema}.load_batches (batch_id),
    landed_at timestamptz not null default clock_timestamp(),
    landed_from text not null,
    unique (call_uuid, payload_md5)
);
comment on table {raw_schema}.knowlarity_calls is
    'Knowlarity call bodies verbatim: API call-log objects, webhook bodies, SR hook CDRs, live events.';

create table {raw_schema}.meta_leads (
    raw_id bigint generated always as identity primary key,
    lead_id text not null,
    payload jsonb not null,
    payload_shape text not null,
    payload_md5 text not null,
    batch_id bigint not null references {raw_schema}.load_batches (batch_id),
    landed_at timestamptz not null default clock_timestamp(),
    landed_from text not null,
    unique (lead_id, payload_md5)
);
comment on table {raw_schema}.meta_leads is 'Meta Lead Ads Graph lead objects verbatim.';

create table {raw_schema}.quarantine (
    quarantine_id bigint generated always as identity primary key,
    source text not null,
    reason text not null,
    original_text text not null,
    original_md5 text not null,
    batch_id bigint references {raw_schema}.load_batches (batch_id),
    landed_at timestamptz not null default clock_timestamp(),
    landed_from text not null
);
comment on table {raw_schema}.quarantine is
    'Whatever could not be parsed or has no natural key, with the reason and the original text.';
create unique index on {raw_schema}.quarantine (source, original_md5);
create index on {raw_schema}.quarantine (source, landed_at);

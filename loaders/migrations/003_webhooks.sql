-- Webhook intake: every delivered body is kept (raw bytes as text, with their sha256), and each
-- Meta `leadgen` change waits in a queue keyed by leadgen_id until a worker has fetched the lead
-- from Graph and landed it in meta_leads. A redelivery finds its row and adds nothing.

create table {raw_schema}.webhook_deliveries (
    delivery_id bigint generated always as identity primary key,
    source text not null check (source in ('knowlarity', 'meta')),
    method text not null default 'POST',
    body_sha256 text not null,
    body_text text not null,
    content_type text,
    outcome text not null default 'received'
        check (outcome in ('received', 'landed', 'queued', 'quarantined', 'ignored')),
    batch_id bigint references {raw_schema}.load_batches (batch_id),
    first_received_at timestamptz not null default clock_timestamp(),
    last_received_at timestamptz not null default clock_timestamp(),
    times_received integer not null default 1,
    unique (source, body_sha256)
);
comment on table {raw_schema}.webhook_deliveries is
    'Every distinct webhook body as received (before any parsing), with how often it came.';

create table {raw_schema}.meta_leadgen_queue (
    leadgen_id text primary key,
    page_id text,
    form_id text,
    ad_id text,
    adgroup_id text,
    change_value jsonb not null,
    delivery_id bigint not null references {raw_schema}.webhook_deliveries (delivery_id),
    status text not null default 'pending' check (status in ('pending', 'done', 'failed')),
    attempts integer not null default 0,
    enqueued_at timestamptz not null default clock_timestamp(),
    next_attempt_at timestamptz not null default clock_timestamp(),
    last_attempt_at timestamptz,
    last_error text,
    done_at timestamptz,
    batch_id bigint references {raw_schema}.load_batches (batch_id)
);
comment on table {raw_schema}.meta_leadgen_queue is
    'Meta leadgen notifications waiting for their Graph lookup; one row per leadgen_id.';
create index meta_leadgen_queue_due on {raw_schema}.meta_leadgen_queue (next_attempt_at)
    where status = 'pending';

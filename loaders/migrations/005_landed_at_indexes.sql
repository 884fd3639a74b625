-- Incremental staging models re-read the records landed since their last run: BRIN indexes on
-- landed_at (insert order, so nearly monotonic) find those rows without scanning the payloads, and
-- cost next to nothing to maintain on append-only tables.
create index if not exists knowlarity_calls_landed_at on {raw_schema}.knowlarity_calls
    using brin (landed_at);
create index if not exists meta_leads_landed_at on {raw_schema}.meta_leads using brin (landed_at);

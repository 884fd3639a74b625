-- Renders ensure_index (macros/incremental.sql), a post-hook of int_touches_unioned and
-- customer_merges; never run (see the .sqlfluff here).
{{ leadlink.postgres__ensure_index('leads_master_ids', 'gin') }}

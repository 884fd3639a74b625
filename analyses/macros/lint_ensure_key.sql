-- Renders ensure_key (macros/incremental.sql), a post-hook of the marts; never run (see the
-- .sqlfluff here).
{{ leadlink.ensure_key('primary key', 'customer_id') }}

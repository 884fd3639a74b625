-- Renders the default of ensure_index (macros/incremental.sql); never run (see the .sqlfluff
-- here).
{{ leadlink.default__ensure_index('external_id') }}

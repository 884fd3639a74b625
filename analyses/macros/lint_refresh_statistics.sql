-- Renders identity_refresh_statistics (macros/incremental.sql), a post-hook of the incremental
-- identity models; never run (see the .sqlfluff here). Outside an incremental run it is a plain
-- analyze.
{{ leadlink.default__identity_refresh_statistics() }}

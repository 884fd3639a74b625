-- Renders the macro of macros/incremental.sql never run (see the .sqlfluff here).
select recent.record_id
from lint_landed as recent
where recent.landed_at >= {{ leadlink.default__incremental_landed_since('last_landed_at') }}

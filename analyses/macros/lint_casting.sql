-- Renders every macro of macros/casting.sql never run (see the .sqlfluff here).
select
    {{ leadlink.default__lenient_cast('raw_value', 'integer') }} as default_cast,
    {{ leadlink.postgres__lenient_cast('raw_value', 'integer') }} as postgres_cast,
    {{ leadlink.postgres__parse_timestamp('raw_value', 'Asia/Kolkata') }} as parsed_at,
    {{ leadlink.postgres__first_present('raw_value', 'landed_at desc') }} as first_value
from lint_input

-- Renders capped_phone_text (macros/casting.sql); never run (see the .sqlfluff here).
select {{ leadlink.default__capped_phone_text('lint_input.phone_answer') }} as phone_raw
from lint_input

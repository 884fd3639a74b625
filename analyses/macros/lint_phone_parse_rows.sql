-- Renders phone_parse_rows (macros/phone/normalize_phone.sql) as int_phone_numbers runs it; never
-- run (see the .sqlfluff here). Its steps are lateral subqueries fenced by `limit all offset 0`
-- on purpose (ST05, AM09), it passes every column of its input on (AM04), and the default
-- region renders as a literal (ST10).
with unseen as (
    select lint_input.phone_raw
    from lint_input
)

{{ leadlink.phone_parse_rows('unseen', 'phone_raw') }}  -- noqa: ST05, AM09, AM04, ST10

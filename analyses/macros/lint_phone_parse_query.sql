-- Renders phone_parse_query (macros/phone/normalize_phone.sql) as the installed parse_phone
-- function runs it; never run (see the .sqlfluff here). Its steps are lateral subqueries fenced
-- by `limit all offset 0` on purpose (ST05, AM09, docs/phone-normalisation.md); the default
-- region renders as a literal (ST10).
{{ leadlink.default__phone_parse_query("'+91 98765 43210'") }}  -- noqa: ST05, AM09, ST10

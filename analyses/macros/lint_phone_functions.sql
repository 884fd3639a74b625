-- Renders the DDL of macros/phone/install_phone_functions.sql; never run (see the .sqlfluff
-- here): install_phone_functions runs it.
{{ leadlink.phone_functions_sql('lint_schema') }}

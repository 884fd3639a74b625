-- Renders the DDL of macros/crm/crm_functions.sql; never run (see the .sqlfluff here): the
-- `leadlink crm install` plan carries it. The PL/pgSQL bodies are dollar-quoted strings here.
{{ leadlink.crm_phone_key_function_sql('leadlink') }};

{{ leadlink.crm_functions_sql('public', 'leadlink') | join(';\n\n') }}

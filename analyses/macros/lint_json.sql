-- Renders every macro of macros/json.sql never run (see the .sqlfluff here).
select
    {{ leadlink.default__json_text('lint_input.payload', 'id') }} as default_text,
    {{ leadlink.default__json_text('lint_input.payload', ['call', 'id']) }} as default_path_text,
    {{ leadlink.postgres__json_text('lint_input.payload', 'id') }} as postgres_text,
    {{ leadlink.postgres__json_text('lint_input.payload', ['call', 'id']) }} as postgres_path_text,
    {{ leadlink.default__json_value('lint_input.payload', 'field_data') }} as default_value,
    {{ leadlink.default__json_value('lint_input.payload', ['lead', 'field_data']) }}
        as default_path_value,
    {{ leadlink.postgres__json_value('lint_input.payload', 'field_data') }} as postgres_value,
    {{ leadlink.postgres__json_value('lint_input.payload', ['lead', 'field_data']) }}
        as postgres_path_value,
    {{ leadlink.postgres__meta_field_answer(
        leadlink.postgres__json_value('lint_input.payload', 'field_data'), ['phone_number', 'phone']
    ) }} as phone_answer,
    {{ leadlink.postgres__meta_field_answer(
        leadlink.postgres__json_value('lint_input.payload', 'field_data'), ['email'], 'mail'
    ) }} as email_answer
from lint_input

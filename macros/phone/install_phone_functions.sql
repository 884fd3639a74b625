{#- Installs the normaliser as SQL functions, rendered from the same macros the models use, for
    the receptionist lookup, the `leadlink phone normalize` command and the CRM application:
      <schema>.normalize_phone(raw text, default_region text default 'IN') -> text
      <schema>.phone_unusable_reason(raw text, default_region text default 'IN') -> text
      <schema>.parse_phone(raw text, ...) -> table (phone_e164, unusable_reason)
      <schema>.parse_phones(raw_values text[], ...) -> the same per array element, with its
          position: one call per batch, for bulk callers such as `leadlink phone normalize`
    The one-value functions are PL/pgSQL so that a session plans their (large) query once and
    reuses the plan on every later call; parse_phones, one call per batch, stays plain SQL.
    Runs as a post-hook of int_phone_numbers (so after the seeds it reads) and by
    `dbt run-operation install_phone_functions`. -#}

{#- The schema is the one setting LEADLINK_FUNCTION_SCHEMA (default `leadlink`), which leadlink's
    Python side reads too (`leadlink dbt` passes it on), so both always agree. -#}
{% macro phone_function_schema() %}
    {{ return(env_var('LEADLINK_FUNCTION_SCHEMA', 'leadlink')) }}
{% endmacro %}

{% macro install_phone_functions() %}
    {#- refs first: dbt records a hook's dependencies while parsing, when execute is false -#}
    {%- set regions = ref('phone_regions') -%}
    {%- set patterns = ref('phone_valid_patterns') -%}
    {%- set test_numbers = ref('phone_test_numbers') -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set schema = leadlink.phone_function_schema() -%}
    {%- set exists = adapter.get_relation(regions.database, regions.schema, regions.identifier) -%}
    {%- if exists is none -%}
        {{ log("phone seeds not loaded yet; skipping install_phone_functions", info=true) }}
        {{ return('') }}
    {%- endif -%}
    {%- set statements = leadlink.phone_functions_sql(schema) -%}
    {% do run_query(statements) %}
    {{ log("installed " ~ schema ~ ".normalize_phone, phone_unusable_reason, parse_phone,"
        ~ " parse_phones", info=true) }}
{% endmacro %}


{#- The DDL install_phone_functions runs: a macro of its own so that it can be rendered (and
    linted, analyses/macros/) without running it. -#}
{% macro phone_functions_sql(schema) %}
    create schema if not exists {{ schema }};
    create or replace function {{ schema }}.normalize_phone(
        raw text, default_region text default 'IN'
    ) returns text
    language plpgsql stable parallel safe
    -- one generic plan for every call: planning this query costs milliseconds
    set plan_cache_mode = force_generic_plan
    as $normalize_phone$
    #variable_conflict use_column
    begin
        return {{ leadlink.normalize_phone('raw', 'default_region') }};
    end
    $normalize_phone$;
    create or replace function {{ schema }}.phone_unusable_reason(
        raw text, default_region text default 'IN'
    ) returns text
    language plpgsql stable parallel safe
    -- one generic plan for every call: planning this query costs milliseconds
    set plan_cache_mode = force_generic_plan
    as $phone_unusable_reason$
    #variable_conflict use_column
    begin
        return {{ leadlink.phone_unusable_reason('raw', 'default_region') }};
    end
    $phone_unusable_reason$;
    create or replace function {{ schema }}.parse_phones(
        raw_values text[], default_region text default 'IN'
    ) returns table (input_position bigint, phone_e164 text, unusable_reason text)
    language sql stable parallel safe
    as $parse_phones$
        with batch_input as (
            select raw_value, input_position
            from unnest(raw_values) with ordinality as batch (raw_value, input_position)
        )
        select input_position, phone_e164, unusable_reason
        from ({{ leadlink.phone_parse_rows('batch_input', 'raw_value', 'default_region') }})
            as parsed
    $parse_phones$;
    create or replace function {{ schema }}.parse_phone(
        raw text, default_region text default 'IN'
    ) returns table (phone_e164 text, unusable_reason text)
    language plpgsql stable parallel safe
    -- one generic plan for every call: planning this query costs milliseconds
    set plan_cache_mode = force_generic_plan
    as $parse_phone$
    #variable_conflict use_column
    begin
        return query {{ leadlink.phone_parse_query('raw', 'default_region') }};
    end
    $parse_phone$;
{%- endmacro %}

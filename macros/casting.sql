{#- Casts that never fail a build: a value that does not parse becomes null (the raw payload
    still holds it). Dispatched because "try cast" differs by engine. Not named safe_cast: a
    project macro of that name would replace dbt's own, which unit tests use on given rows. -#}

{% macro lenient_cast(expression, data_type) %}
    {{ return(adapter.dispatch('lenient_cast', 'leadlink')(expression, data_type)) }}
{% endmacro %}

{% macro default__lenient_cast(expression, data_type) %}
    try_cast({{ expression }} as {{ data_type }})
{% endmacro %}

{% macro postgres__lenient_cast(expression, data_type) %}
    {#- pg_input_is_valid needs PostgreSQL 16 or newer. -#}
    case
        when pg_input_is_valid(trim({{ expression }}), '{{ data_type }}')
            then cast(trim({{ expression }}) as {{ data_type }})
    end
{% endmacro %}


{#- Text to timestamptz. Values with an offset (+05:30, +0000, Z) keep it; naive values are read
    in `naive_time_zone` (Knowlarity's live events are naive IST). Unix seconds are accepted. -#}
{% macro parse_timestamp(expression, naive_time_zone='UTC') %}
    {{ return(adapter.dispatch('parse_timestamp', 'leadlink')(expression, naive_time_zone)) }}
{% endmacro %}

{% macro postgres__parse_timestamp(expression, naive_time_zone='UTC') %}
    case
        when trim({{ expression }}) ~ '^\d{9,11}$'
            then to_timestamp(cast(trim({{ expression }}) as bigint))
        when trim({{ expression }}) ~* '([+-]\d{2}(:?\d{2})?|z|utc)$'
            then {{ leadlink.lenient_cast(expression, 'timestamptz') }}
        else
            {{ leadlink.lenient_cast(expression, 'timestamp') }}
            at time zone '{{ naive_time_zone }}'
    end
{% endmacro %}


{#- Per natural key, the first non-null, non-empty value of `expression` in `order_by` order:
    lets staging take each field from the best version of a record that has it. -#}
{% macro first_present(expression, order_by) %}
    {{ return(adapter.dispatch('first_present', 'leadlink')(expression, order_by)) }}
{% endmacro %}

{% macro postgres__first_present(expression, order_by) %}
    (array_agg({{ expression }} order by {{ order_by }})
        filter (where nullif(cast({{ expression }} as text), '') is not null))[1]
{% endmacro %}


{#- A phone string as staging passes it on. Longer than `max_phone_chars` characters (after trim)
    it is no phone: it becomes a fixed marker without digits, which the normaliser calls
    not_a_number. int_phone_numbers indexes every phone string, and a huge one (900,000
    characters) would fail every build from then on ("index row requires ... bytes"). The loaders
    quarantine such records before they land; this guards rows landed any other way. The limit
    is the loaders' too (loaders/payload_checks.py MAX_PHONE_CHARS). -#}
{% macro capped_phone_text(expression, max_phone_chars=64) %}
    {{ return(adapter.dispatch('capped_phone_text', 'leadlink')(expression, max_phone_chars)) }}
{% endmacro %}

{% macro default__capped_phone_text(expression, max_phone_chars=64) %}
    case
        when length({{ expression }}) > {{ max_phone_chars }}
            then '<oversized value: not a phone number>'
        else {{ expression }}
    end
{% endmacro %}

{#- JSON extraction, dispatched so a second engine is one macro file away. -#}

{% macro json_text(json_expression, path) %}
    {{ return(adapter.dispatch('json_text', 'leadlink')(json_expression, path)) }}
{% endmacro %}

{% macro default__json_text(json_expression, path) %}
    {%- if path is string -%}{%- set path = [path] -%}{%- endif -%}
    json_value({{ json_expression }}, '$.{{ path | join(".") }}')
{% endmacro %}

{% macro postgres__json_text(json_expression, path) %}
    {%- if path is string -%}
        ({{ json_expression }} ->> '{{ path }}')
    {%- else -%}
        ({{ json_expression }} #>> '{ {{- path | join(",") -}} }')
    {%- endif -%}
{% endmacro %}


{% macro json_value(json_expression, path) %}
    {{ return(adapter.dispatch('json_value', 'leadlink')(json_expression, path)) }}
{% endmacro %}

{% macro default__json_value(json_expression, path) %}
    {%- if path is string -%}{%- set path = [path] -%}{%- endif -%}
    json_query({{ json_expression }}, '$.{{ path | join(".") }}')
{% endmacro %}

{% macro postgres__json_value(json_expression, path) %}
    {%- if path is string -%}
        ({{ json_expression }} -> '{{ path }}')
    {%- else -%}
        ({{ json_expression }} #> '{ {{- path | join(",") -}} }')
    {%- endif -%}
{% endmacro %}


{#- The first answer of a Meta lead's field_data whose name (case-insensitive) is in `names`, in
    the order of `names`; then, when `name_pattern` is given, the first answer whose name matches
    it. field_data is [{"name": ..., "values": [...]}, ...]. -#}
{% macro meta_field_answer(field_data, names, name_pattern=none) %}
    {{ return(adapter.dispatch('meta_field_answer', 'leadlink')(field_data, names, name_pattern)) }}
{% endmacro %}

{% macro postgres__meta_field_answer(field_data, names, name_pattern=none) %}
    (
        select answer.element -> 'values' ->> 0
        from jsonb_array_elements(
            case when jsonb_typeof({{ field_data }}) = 'array' then {{ field_data }} end
        ) with ordinality as answer (element, position)
        where
            nullif(trim(answer.element -> 'values' ->> 0), '') is not null
            and (
                lower(answer.element ->> 'name') in (
                    {%- for name in names %}'{{ name }}'{{ ", " if not loop.last }}{% endfor -%}
                )
                {%- if name_pattern %}
                    or lower(answer.element ->> 'name') ~ '{{ name_pattern }}'
                {%- endif %}
            )
        order by
            coalesce(array_position(
                array[{%- for name in names %}'{{ name }}'{{ ", " if not loop.last }}{% endfor -%}],
                lower(answer.element ->> 'name')
            ), {{ names | length + 1 }}),
            answer.position
        limit 1
    )
{% endmacro %}

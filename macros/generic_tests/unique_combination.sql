{#- Fails on every combination of `columns` that appears on more than one row. -#}
{% test unique_combination(model, combination_of_columns) %}
    select
        {{ combination_of_columns | join(", ") }},
        count(*) as row_count
    from {{ model }}
    group by {{ combination_of_columns | join(", ") }}
    having count(*) > 1
{% endtest %}

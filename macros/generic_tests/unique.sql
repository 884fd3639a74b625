{#- dbt's `unique`, with one shortcut: a column that a valid unique index of the relation itself
    holds on its own (a primary key, a unique constraint) cannot hold a duplicate, so the test
    reads the catalog instead of grouping every row. Any other column, a view's column, or a
    test with a `where` config counts the duplicates as dbt does. -#}
{% macro default__test_unique(model, column_name) %}
select
    {{ column_name }} as unique_field,
    count(*) as n_records
from {{ model }}
where
    {{ column_name }} is not null
    {%- if model is not string %}
    and not {{ leadlink.unique_index_holds(model, column_name) }}
    {%- endif %}
group by {{ column_name }}
having count(*) > 1
{% endmacro %}


{#- SQL true when a valid, non-partial unique index of `relation` has `column_name` as its only
    key (false where the engine's catalog is not known here). -#}
{% macro unique_index_holds(relation, column_name) %}
    {{- return(adapter.dispatch('unique_index_holds', 'leadlink')(relation, column_name)) -}}
{% endmacro %}

{% macro default__unique_index_holds(relation, column_name) -%}
    false
{%- endmacro %}

{% macro postgres__unique_index_holds(relation, column_name) -%}
    (
        select count(*) > 0
        from pg_catalog.pg_index as unique_index
        inner join pg_catalog.pg_attribute as key_column
            on
                unique_index.indrelid = key_column.attrelid
                and unique_index.indkey[0] = key_column.attnum
        where
            unique_index.indrelid = to_regclass('{{ relation.include(database=false) }}')
            and unique_index.indisunique
            and unique_index.indisvalid
            and unique_index.indnkeyatts = 1
            and unique_index.indpred is null
            and unique_index.indexprs is null
            and key_column.attname = '{{ column_name }}'
    )
{%- endmacro %}

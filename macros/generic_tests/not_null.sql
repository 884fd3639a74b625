{#- dbt's `not_null`, with one shortcut: a column of a table with a NOT NULL constraint (a
    contract's not_null, a primary key) cannot hold a null, so the test reads the catalog instead
    of scanning every row. A view's column, or a test with a `where` config, is scanned as dbt
    does. -#}
{% macro default__test_not_null(model, column_name) %}
{%- set column_list = '*' if should_store_failures() else column_name %}
select {{ column_list }}
from {{ model }}
where
    {{ column_name }} is null
    {%- if model is not string %}
    and not {{ leadlink.not_null_constraint_holds(model, column_name) }}
    {%- endif %}
{% endmacro %}


{#- SQL true when `column_name` of `relation` is declared NOT NULL (false where the engine's
    catalog is not known here). -#}
{% macro not_null_constraint_holds(relation, column_name) %}
    {{- return(adapter.dispatch('not_null_constraint_holds', 'leadlink')(relation, column_name)) -}}
{% endmacro %}

{% macro default__not_null_constraint_holds(relation, column_name) -%}
    false
{%- endmacro %}

{% macro postgres__not_null_constraint_holds(relation, column_name) -%}
    (
        select count(*) > 0
        from pg_catalog.pg_attribute as table_column
        inner join pg_catalog.pg_class as relation
            on table_column.attrelid = relation.oid
        where
            table_column.attrelid = to_regclass('{{ relation.include(database=false) }}')
            and relation.relkind in ('r', 'p')
            and table_column.attname = '{{ column_name }}'
            and table_column.attnotnull
            and not table_column.attisdropped
    )
{%- endmacro %}

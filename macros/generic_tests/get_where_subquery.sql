{#- dbt's get_where_subquery (the rows a generic test reads: its `where` config), narrowed in a
    live build to the rows the build made again (data_test_scope). -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- set scope = leadlink.data_test_scope(relation) -%}
    {%- if where and scope -%}
        {{ return('(select * from ' ~ relation ~ ' where (' ~ where ~ ') and (' ~ scope ~ ')) dbt_subquery') }}
    {%- elif where or scope -%}
        {{ return('(select * from ' ~ relation ~ ' where ' ~ (where or scope) ~ ') dbt_subquery') }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}

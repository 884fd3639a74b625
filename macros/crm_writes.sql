{#- Which CRM rows were written since the last complete identity run, whoever wrote them. The app
    and `leadlink publish` change rows without touching updated_at (a lead's customer_id, a merge
    mark), so timestamps cannot say; PostgreSQL's row versions can: every insert or update
    stamps the row with its transaction id (xmin). A run records its horizon, the oldest
    transaction still running when it started: whatever that run could not see was written by a
    transaction at or after it. The next run reads the rows stamped since (one scan of each CRM
    table into int_crm_written_rows) and compares only those with the marts, instead of every
    row. Dispatched: another engine says "unknown" (null), and then every run rebuilds
    everything. PostgreSQL's expressions are in macros/publish/write_horizon.sql, which publish
    renders too. -#}

{#- The write horizon now, as a number that only grows (null: this engine cannot say). -#}
{% macro crm_write_horizon() %}
    {{ return(adapter.dispatch('crm_write_horizon', 'leadlink')()) }}
{% endmacro %}

{% macro default__crm_write_horizon() %}
    cast(null as bigint)
{% endmacro %}

{% macro postgres__crm_write_horizon() %}
    {{ postgres_write_horizon() }}
{% endmacro %}


{#- A CRM staging model's column that says how old its row version is (null: unknown). -#}
{% macro row_version_age() %}
    {{ return(adapter.dispatch('row_version_age', 'leadlink')()) }}
{% endmacro %}

{% macro default__row_version_age() %}
    cast(null as integer)
{% endmacro %}

{% macro postgres__row_version_age() %}
    {#- transactions between the row's writer and now, stable within one statement -#}
    age(xmin)
{% endmacro %}


{#- Was the row (its row_version_age column) written at or after the horizon `since` (a
    crm_write_horizon value)? The row's age and the horizon's are measured from the same now. -#}
{% macro crm_row_written_since(age_column, since) %}
    {{ return(adapter.dispatch('crm_row_written_since', 'leadlink')(age_column, since)) }}
{% endmacro %}

{% macro default__crm_row_written_since(age_column, since) %}
    true
{% endmacro %}

{% macro postgres__crm_row_written_since(age_column, since) %}
    {{ postgres_row_written_since(age_column, since) }}
{% endmacro %}


{#- The ids of one CRM table's rows written since the last complete run (int_crm_written_rows),
    a subquery for `... in <subquery>`. -#}
{% macro crm_written(crm_table) %}
    (
        select written.row_id
        from {{ identity_model('int_crm_written_rows') }} as written
        where written.crm_table = '{{ crm_table }}'
    )
{%- endmacro %}


{#- The key of each row of `relation` whose array column shares an element with the ids of the
    subquery, as a select. many: the subquery holds many ids (thousands). Dispatched. -#}
{% macro array_overlap_rows(relation, key_column, array_column, ids_subquery, many=false) %}
    {{ return(adapter.dispatch('array_overlap_rows', 'leadlink')(
        relation, key_column, array_column, ids_subquery, many)) }}
{% endmacro %}

{#- one join of every array element with the ids (hashed once) -#}
{% macro default__array_overlap_rows(relation, key_column, array_column, ids_subquery, many=false) %}
    select distinct overlapping.{{ key_column }}
    from {{ relation }} as overlapping
    cross join unnest(overlapping.{{ array_column }}) as element (id)
    where element.id in {{ ids_subquery }}
{% endmacro %}

{#- A few ids: the overlap operator, which a GIN index on the column answers (ensure_index). Many
    (after a publish that wrote most of the CRM): the default's join, because the overlap
    operator compares a row's array with every id, row after row. -#}
{% macro postgres__array_overlap_rows(relation, key_column, array_column, ids_subquery, many=false) %}
    {%- if many -%}
        {{ default__array_overlap_rows(relation, key_column, array_column, ids_subquery) }}
    {%- else -%}
        select overlapping.{{ key_column }}
        from {{ relation }} as overlapping
        where overlapping.{{ array_column }} && array{{ ids_subquery | trim }}
    {%- endif -%}
{% endmacro %}


{#- How many rows of one CRM table this run found written since the last complete run (0 while
    parsing or before int_crm_written_rows is built here). -#}
{% macro crm_written_count(crm_table) %}
    {%- if not execute -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set written = identity_model('int_crm_written_rows') -%}
    {%- if adapter.get_relation(written.database, written.schema, written.identifier) is none -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set result = run_query(
        "select count(*) from " ~ written ~ " where crm_table = '" ~ crm_table ~ "'") -%}
    {{ return(result.columns[0].values()[0]) }}
{% endmacro %}

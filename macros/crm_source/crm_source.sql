{% macro crm_source_columns(table_name, required, optional={}, added_by_publish={}) -%}
    {#- The CRM columns a staging model reads, named one by one: a view over `select *` would
        depend on every column and block the CRM team's `alter table ... drop column` of one
        leadlink never reads. A required column that is missing stops the build with its name;
        a missing optional one reads as a typed null (and a warning says so); so does a column
        `leadlink publish` adds when it first needs it, without the warning. -#}
    {%- set relation = source('crm', table_name) -%}
    {%- if execute -%}
        {%- set present = adapter.get_columns_in_relation(relation) | map(attribute='name')
            | map('lower') | list -%}
        {%- set absent = required | reject('in', present) | list -%}
        {%- if present | length == 0 -%}
            {#- no table (yet): compile the plain list; a run stops earlier, in check_crm_source -#}
            {%- set present = required + optional.keys() | list + added_by_publish.keys() | list -%}
        {%- elif absent -%}
            {{ exceptions.raise_compiler_error(
                "the CRM table " ~ relation ~ " has no column " ~ absent | join(', ')
                ~ " (leadlink needs it; was it renamed or dropped by a CRM migration?)") }}
        {%- endif -%}
    {%- else -%}
        {%- set present = required + optional.keys() | list + added_by_publish.keys() | list -%}
    {%- endif -%}
    {%- set expressions = [] -%}
    {%- for name in required -%}
        {%- do expressions.append(name) -%}
    {%- endfor -%}
    {%- for name, data_type in optional.items() -%}
        {%- if name in present -%}
            {%- do expressions.append(name) -%}
        {%- else -%}
            {%- do log("leadlink: " ~ relation ~ " has no column " ~ name ~ "; read as null",
                info=true) -%}
            {%- do expressions.append("cast(null as " ~ data_type ~ ") as " ~ name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for name, data_type in added_by_publish.items() -%}
        {%- do expressions.append(name if name in present
            else "cast(null as " ~ data_type ~ ") as " ~ name) -%}
    {%- endfor -%}
    {{ expressions | join(",\n        ") }}
{%- endmacro %}


{% macro crm_source_fix() -%}
    {{- "set LEADLINK_CRM_SCHEMA (dbt var crm_schema) to the schema that holds the CRM's tables"
        ~ " (public on Supabase), or load an export with `leadlink load legacy`; the role needs"
        ~ " usage on the schema and select on the tables" -}}
{%- endmacro %}


{% macro check_crm_source() -%}
    {#- on-run-start: the CRM's four tables must be there before anything reads them; one clear
        message instead of a failing model per table. Skipped when only seeds are selected. -#}
    {%- if execute -%}
        {%- set wanted = [] -%}
        {%- for unique_id in selected_resources if not unique_id.startswith('seed.') -%}
            {%- do wanted.append(unique_id) -%}
        {%- endfor -%}
        {%- if wanted -%}
            {%- set crm_sources = graph.sources.values() | selectattr('source_name', 'equalto', 'crm')
                | list -%}
            {%- set schema = crm_sources[0].schema -%}
            {%- set names = crm_sources | map(attribute='name') | sort -%}
            {%- set checked = run_query(
                "select wanted.name, to_regclass(quote_ident(" ~ dbt.string_literal(schema)
                ~ ") || '.' || quote_ident(wanted.name)) is not null"
                ~ " from unnest(array['" ~ names | join("','") ~ "']) as wanted (name) order by 1") -%}
            {%- set missing = [] -%}
            {%- for row in checked.rows if not row[1] -%}
                {%- do missing.append(row[0]) -%}
            {%- endfor -%}
            {%- if missing -%}
                {{ exceptions.raise_compiler_error(
                    "the CRM's tables are not in schema \"" ~ schema ~ "\" (missing: "
                    ~ missing | join(', ') ~ "): " ~ crm_source_fix()) }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    select 1
{%- endmacro %}

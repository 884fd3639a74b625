{#- The landed_at from which an incremental staging run re-reads records: the newest landing it
    has seen less the look-back var `incremental_lookback_minutes`, because a loader's
    transaction can commit after a later one was already read (landed_at is the insert time). -#}
{% macro incremental_landed_since(landed_at_column) %}
    {{ return(adapter.dispatch('incremental_landed_since', 'leadlink')(landed_at_column)) }}
{% endmacro %}

{% macro default__incremental_landed_since(landed_at_column) %}
    (
        select
            coalesce(max(previous_run.{{ landed_at_column }}), cast('-infinity' as timestamptz))
            - {{ lookback_interval() }}
        from {{ this }} as previous_run
    )
{% endmacro %}


{#- The look-back as an interval (the var may be a fraction of a minute). -#}
{% macro lookback_interval() %}
    {{- "interval '" ~ (var('incremental_lookback_minutes') | float) ~ " minutes'" -}}
{% endmacro %}


{#- The relation a model of this project was last built into, or none when it does not exist
    (first run). Read by the identity change models to see the previous state of models that are
    downstream of them: a ref() would be a cycle. -#}
{% macro prior_relation(model_name) %}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.name == model_name
            and node.package_name == project_name -%}
            {{ return(adapter.get_relation(
                database=node.database, schema=node.schema, identifier=node.alias
            )) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{% endmacro %}


{#- The relation of one of the identity models that decide a run's scope. A model reads it with
    ref(). A data test reads it from the graph: a test may ref() only the models it was parsed
    with, and the scope models are upstream of every model whose tests read the scope. -#}
{% macro identity_model(model_name) %}
    {%- if model.resource_type == 'test' -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type == 'model' and node.name == model_name
                and node.package_name == project_name -%}
                {{ return(api.Relation.create(
                    database=node.database, schema=node.schema, identifier=node.alias
                )) }}
            {%- endif -%}
        {%- endfor -%}
        {{ exceptions.raise_compiler_error('no model ' ~ model_name ~ ' in this project') }}
    {%- endif -%}
    {{ return(ref(model_name)) }}
{% endmacro %}


{#- Does this run rebuild every identity row (no checkpoint of a complete previous run, a changed
    seed, var or sources table, --full-refresh)? Read from int_identity_batch at run time. -#}
{% macro identity_rebuilds_everything() %}
    {#- parsing renders the restricted branches, so their refs are the model's dependencies -#}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set batch = identity_model('int_identity_batch') -%}
    {#- not built in this database (a lint or compile elsewhere): as on a first run -#}
    {%- if adapter.get_relation(batch.database, batch.schema, batch.identifier) is none -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set result = run_query('select is_everything from ' ~ batch) -%}
    {{ return(result.columns[0].values()[0]) }}
{% endmacro %}


{#- Is this an incremental run that touches only the changed part (not everything)? -#}
{% macro identity_is_restricted() %}
    {{ return(is_incremental() and not identity_rebuilds_everything()) }}
{% endmacro %}


{#- The keys of one kind that changed in this run (int_identity_changes): touch (touch_id),
    crm_lead (leads_master.id), crm_customer (customers.id), lead (a lead_id a changed touch was
    in), person (a phone_e164 a changed touch or customer had). -#}
{% macro identity_changed(kind, key_type='text') %}
    {%- if key_type == 'text' -%}
        (
            select changed.change_key
            from {{ identity_model('int_identity_changes') }} as changed
            where changed.change_kind = '{{ kind }}'
        )
    {%- else -%}
        (
            select cast(changed.change_key as {{ key_type }})
            from {{ identity_model('int_identity_changes') }} as changed
            where changed.change_kind = '{{ kind }}'
        )
    {%- endif -%}
{% endmacro %}


{#- The people (usable E.164) whose touches, leads or customer this run rebuilds. -#}
{% macro identity_people() %}
    (select people.phone_e164 from {{ identity_model('int_identity_people') }} as people)
{%- endmacro %}


{#- The leads this run rebuilds (int_identity_leads). -#}
{% macro identity_leads() %}
    (select scoped_leads.lead_id from {{ identity_model('int_identity_leads') }} as scoped_leads)
{%- endmacro %}


{#- The rows of an identity model (built into `relation`) this run builds again, as a condition
    on its columns (none for a model without a scope; for int_phone_numbers, whose rows never
    change, the strings this run parsed). The pre-hooks delete them
    (identity_replace_scope) and a live build's data tests read only them (data_test_scope).
    Each is one key `in` a set of keys, so the planner reads them by the key's index and knows
    how few they are. customer_merges and unlinkable_leads also rebuild the rows whose live CRM
    values changed (customer_merges_stale, unlinkable_leads_stale): their tests read the rows of
    the changed customers and leads. -#}
{% macro identity_rebuilt_rows(model_name, relation) %}
    {%- if model_name == 'int_phone_numbers' -%}
        {{ return(
            'parsed_in_run in (select batch.run_number from '
            ~ identity_model('int_identity_batch') ~ ' as batch)'
        ) }}
    {%- elif model_name == 'int_crm_customers_normalized' -%}
        {{ return('customer_id in ' ~ identity_changed('crm_customer', 'bigint')) }}
    {%- elif model_name == 'int_touches_unioned' -%}
        {{ return('touch_id in ' ~ identity_changed('touch')) }}
    {%- elif model_name == 'int_touches_assigned' -%}
        {{ return(
            'touch_id in (' ~ identity_changed('touch') ~ ' union select own.touch_id from '
            ~ relation ~ ' as own where own.person_e164 in ' ~ identity_people() ~ ')'
        ) }}
    {%- elif model_name in ('int_customers_identified', 'customers') -%}
        {{ return('phone_e164 in ' ~ identity_people()) }}
    {%- elif model_name == 'leads' -%}
        {{ return(
            'lead_id in (' ~ identity_leads() ~ ' union select own.lead_id from ' ~ relation
            ~ ' as own where own.phone_e164 in ' ~ identity_people() ~ ')'
        ) }}
    {%- elif model_name == 'lead_touches' -%}
        {{ return(
            'touch_id in (' ~ identity_changed('touch') ~ ' union select scoped.touch_id from '
            ~ identity_model('int_touches_assigned') ~ ' as scoped where scoped.lead_id in '
            ~ identity_leads() ~ ')'
        ) }}
    {%- elif model_name == 'unlinkable_leads' -%}
        {{ return('lead_id in ' ~ identity_leads()) }}
    {%- elif model_name == 'customer_merges' -%}
        {%- set changed_customers = identity_changed('crm_customer', 'bigint') -%}
        {{ return(
            'merged_customer_id in (' ~ changed_customers ~ ' union select own.merged_customer_id'
            ~ ' from ' ~ relation ~ ' as own where own.surviving_customer_id in ('
            ~ changed_customers ~ ' union select scoped.customer_id from '
            ~ identity_model('customers') ~ ' as scoped where scoped.phone_e164 in '
            ~ identity_people() ~ '))'
        ) }}
    {%- endif -%}
    {{ return(none) }}
{% endmacro %}


{#- Does the data test being compiled read only the rows this build made again? Yes in a live
    `dbt build` (`leadlink run`); no in a run that rebuilds everything, with --full-refresh, in
    `dbt test` and with the var `full_data_tests`. -#}
{% macro data_tests_read_rebuilt_rows() %}
    {%- if not execute or model.resource_type != 'test' -%}
        {{ return(false) }}
    {%- endif -%}
    {%- if flags.WHICH != 'build' or flags.FULL_REFRESH or var('full_data_tests', false) -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(not identity_rebuilds_everything()) }}
{% endmacro %}


{#- The condition a generic data test of `relation` adds to its rows, or none to read them all:
    in a live build (data_tests_read_rebuilt_rows), the rows the build made again
    (identity_rebuilt_rows). `unique` always reads them all: a new duplicate may pair with a row
    kept as built. -#}
{% macro data_test_scope(relation) %}
    {%- if not execute or relation is string or model.resource_type != 'test' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set metadata = model.test_metadata or {} -%}
    {%- if metadata.get('name') == 'unique'
        or model.file_key_name != 'models.' ~ relation.identifier -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set scope = identity_rebuilt_rows(relation.identifier, relation) -%}
    {%- if scope is none or not data_tests_read_rebuilt_rows() -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(scope) }}
{% endmacro %}


{#- Pre-hook of an incremental identity model: remove the rows this run rebuilds (all of them
    when it rebuilds everything), in the transaction that inserts them again. -#}
{% macro identity_replace_scope(condition) %}
    {%- if is_incremental() -%}
        {%- if identity_rebuilds_everything() -%}
            truncate table {{ this }}
        {%- else -%}
            delete from {{ this }} where {{ condition }}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}


{#- A primary key or unique constraint on one column, added once (after the first load, as an
    index built by a sort; incremental runs keep it). -#}
{% macro ensure_key(kind, column) %}
    {%- set relation = this.include(database=false) -%}
    do $$
    begin
        if not exists (
            select from pg_constraint
            where
                conrelid = '{{ relation }}'::regclass
                and contype = '{{ "p" if kind == "primary key" else "u" }}'
                and conkey = array[(
                    select attnum from pg_attribute
                    where attrelid = '{{ relation }}'::regclass and attname = '{{ column }}'
                )]
        ) then
            alter table {{ relation }} add {{ kind }} ({{ column }});
        end if;
    end
    $$
{% endmacro %}


{#- Post-hook: an index on one column of this model, created once, also on a table an earlier
    version built without it (the `indexes` config only indexes a table dbt creates).
    method: btree, or gin for an array column that array_overlap_rows reads (PostgreSQL;
    elsewhere a gin index is left out). -#}
{% macro ensure_index(column, method='btree') %}
    {{ return(adapter.dispatch('ensure_index', 'leadlink')(column, method)) }}
{% endmacro %}

{% macro default__ensure_index(column, method='btree') %}
    {%- if method == 'btree' -%}
        create index if not exists {{ this.identifier }}_{{ column }} on {{ this }} ({{ column }})
    {%- else -%}
        select 1
    {%- endif -%}
{% endmacro %}

{% macro postgres__ensure_index(column, method='btree') %}
    {%- set relation = this.include(database=false) -%}
    do $$
    begin
        if not exists (
            select from pg_index
            inner join pg_class as index_class on pg_index.indexrelid = index_class.oid
            inner join pg_am on index_class.relam = pg_am.oid
            where
                pg_index.indrelid = '{{ relation }}'::regclass
                and pg_am.amname = '{{ method }}'
                and pg_index.indnatts = 1
                and pg_index.indpred is null
                and pg_index.indkey[0] = (
                    select attnum from pg_attribute
                    where attrelid = '{{ relation }}'::regclass and attname = '{{ column }}'
                )
        ) then
            create index on {{ relation }} using {{ method }} ({{ column }});
        end if;
    end
    $$
{% endmacro %}


{#- Post-hook of an incremental identity model: fresh planner statistics when this run wrote a
    large part of the table (a rebuild, a first build, the run after a big publish). The next
    models join these tables with the run's scope; with statistics from before the burst (or none:
    autovacuum has not come by yet) the planner picks nested loops that take minutes. A small run
    leaves them to autovacuum. -#}
{% macro identity_refresh_statistics() %}
    {{ return(adapter.dispatch('identity_refresh_statistics', 'leadlink')()) }}
{% endmacro %}

{% macro default__identity_refresh_statistics() %}
    {%- if not is_incremental() or identity_rebuilds_everything() -%}
        analyze {{ this }}
    {%- else -%}
        do $$
        begin
            if (
                select
                    class.reltuples < 0
                    or (select count(*) from {{ ref('int_identity_changes') }}) * 10
                    > class.reltuples
                from pg_class as class
                where class.oid = '{{ this }}'::regclass
            ) then
                execute 'analyze {{ this }}';
            end if;
        end
        $$
    {%- endif -%}
{% endmacro %}

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


{#- Does this run rebuild every identity row (no checkpoint of a complete previous run, a changed
    seed, var or sources table, --full-refresh)? Read from int_identity_batch at run time. -#}
{% macro identity_rebuilds_everything() %}
    {#- parsing renders the restricted branches, so their refs are the model's dependencies -#}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set batch = ref('int_identity_batch') -%}
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
            from {{ ref('int_identity_changes') }} as changed
            where changed.change_kind = '{{ kind }}'
        )
    {%- else -%}
        (
            select cast(changed.change_key as {{ key_type }})
            from {{ ref('int_identity_changes') }} as changed
            where changed.change_kind = '{{ kind }}'
        )
    {%- endif -%}
{% endmacro %}


{#- The people (usable E.164) whose touches, leads or customer this run rebuilds. -#}
{% macro identity_people() %}
    (select people.phone_e164 from {{ ref('int_identity_people') }} as people)
{%- endmacro %}


{#- The leads this run rebuilds: every lead of an affected person, every lead a changed touch is
    in now or was in before. -#}
{% macro identity_leads() %}
    (
        select scoped.lead_id from {{ ref('int_touches_assigned') }} as scoped
        where scoped.person_e164 in {{ identity_people() }}
        union
        select scoped.lead_id from {{ ref('int_touches_assigned') }} as scoped
        where scoped.touch_id in {{ identity_changed('touch') }}
        union
        select changed.change_key
        from {{ ref('int_identity_changes') }} as changed
        where changed.change_kind = 'lead'
    )
{%- endmacro %}


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

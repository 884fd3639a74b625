{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['customer_id']}, {'columns': ['phone_e164']}],
        pre_hook=["{{ identity_replace_scope(identity_rebuilt_rows('leads', this)) }}"],
        post_hook=[
            "{{ ensure_key('primary key', 'lead_id') }}",
            "{{ ensure_key('unique', 'legacy_lead_id') }}",
            "{{ identity_refresh_statistics() }}",
        ],
    )
}}

-- depends_on: {{ ref('int_identity_batch') }}
-- depends_on: {{ ref('int_identity_changes') }}
-- depends_on: {{ ref('int_identity_leads') }}
-- depends_on: {{ ref('int_identity_people') }}

-- One row per lead (sales opportunity): every CRM lead with its id, and every lead the intake
-- rules opened for new records, each linked to its customer when it has a usable phone.
-- Incremental: a run builds again the leads of the affected people and of the changed touches.
{%- set restricted = identity_is_restricted() %}
with

-- restricted: computed once, so the touches' `in (select ...)` below cannot re-run the scope
-- subquery per row (a nested loop on a low estimate: 23 s at 1M); else inlined
assignments as {{ 'materialized' if restricted else 'not materialized' }} (

    select * from {{ ref('int_touches_assigned') }}
    {%- if restricted %}
        where lead_id in {{ identity_leads() }}
    {%- endif %}

),

touches as not materialized (

    select * from {{ ref('int_touches_unioned') }}
    {%- if restricted %}
        where touch_id in (select assignments.touch_id from assignments)
    {%- endif %}

),

customers_identified as (

    select * from {{ ref('int_customers_identified') }}

),

lead_openers as (

    select touches.*
    from touches
    inner join assignments
        on touches.touch_id = assignments.touch_id
    where assignments.touch_type = 'new_lead'

),

-- most leads have one touch: only the joining touches need aggregating
joining_touches as (

    select
        assignments.lead_id,
        count(*) as touch_count,
        max(touches.touched_at) as last_touched_at,
        array_agg(distinct touches.source order by touches.source) as touch_sources
    from assignments
    inner join touches
        on assignments.touch_id = touches.touch_id
    where assignments.touch_type <> 'new_lead'
    group by assignments.lead_id

),

leads as (

    select
        lead_openers.touch_id as lead_id,
        customers_identified.customer_id,
        lead_openers.phone_e164,
        lead_openers.source,
        lead_openers.external_id as external_lead_id,
        case
            when lead_openers.touch_origin = 'crm_lead' then lead_openers.legacy_lead_id
        end as legacy_lead_id,
        lead_openers.branch_id,
        lead_openers.status,
        lead_openers.touched_at as created_at,
        greatest(lead_openers.touched_at, joining_touches.last_touched_at) as last_touched_at,
        1 + coalesce(joining_touches.touch_count, 0) as touch_count,
        case
            when joining_touches.lead_id is null then array[lead_openers.source]
            else (
                select array_agg(all_sources.touch_source order by all_sources.touch_source)
                from (
                    select distinct unnest(
                        array_append(joining_touches.touch_sources, lead_openers.source)
                    ) as touch_source
                ) as all_sources
            )
        end as touch_sources,
        lead_openers.unusable_reason,
        lead_openers.is_test_lead
    from lead_openers
    left join joining_touches
        on lead_openers.touch_id = joining_touches.lead_id
    left join customers_identified
        on lead_openers.phone_e164 = customers_identified.phone_e164

)

select * from leads

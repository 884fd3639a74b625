{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['lead_id']}],
        pre_hook=["{{ identity_replace_scope(identity_rebuilt_rows('lead_touches', this)) }}"],
        post_hook=[
            "{{ ensure_key('primary key', 'touch_id') }}",
            "{{ ensure_key('unique', 'legacy_lead_id') }}",
            "{{ identity_refresh_statistics() }}",
            "{{ ensure_index('touch_origin') }}",
        ],
    )
}}

-- depends_on: {{ ref('int_identity_batch') }}
-- depends_on: {{ ref('int_identity_changes') }}
-- depends_on: {{ ref('int_identity_leads') }}
-- depends_on: {{ ref('int_identity_people') }}

-- Every inbound contact exactly once (each CRM lead row, each call uuid, each Meta lead id, each
-- sighting the CRM filed in lead_sources_history), with the lead it opened or joined and how.
-- Incremental: a run writes again the touches of the leads it rebuilt (see leads). Indexed by
-- touch_origin: publish reads the records the CRM does not hold yet (intake).
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

touches as (

    select * from {{ ref('int_touches_unioned') }}
    {%- if restricted %}
        where touch_id in (select assignments.touch_id from assignments)
    {%- endif %}

),

leads as (

    select * from {{ ref('leads') }}
    {%- if restricted %}
        where lead_id in {{ identity_leads() }}
    {%- endif %}

),

lead_touches as (

    select
        touches.touch_id,
        assignments.lead_id,
        leads.customer_id,
        touches.source,
        touches.external_id,
        case when touches.touch_origin = 'crm_lead' then touches.legacy_lead_id end
            as legacy_lead_id,
        touches.touch_origin,
        assignments.touch_type,
        touches.touched_at,
        touches.branch_id,
        touches.phone_e164,
        touches.unusable_reason
    from touches
    inner join assignments
        on touches.touch_id = assignments.touch_id
    inner join leads
        on assignments.lead_id = leads.lead_id

)

select * from lead_touches

{{
    config(
        indexes=[{'columns': ['lead_id']}],
        post_hook=[
            "alter table {{ this }} add primary key (touch_id)",
            "alter table {{ this }} add unique (legacy_lead_id)",
        ],
    )
}}

-- Every inbound contact exactly once (each CRM lead row, each call uuid, each Meta lead id, each
-- sighting the CRM filed in lead_sources_history), with the lead it opened or joined and how.
with

touches as (

    select * from {{ ref('int_touches_unioned') }}

),

assignments as (

    select * from {{ ref('int_touches_assigned') }}

),

leads as (

    select * from {{ ref('leads') }}

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

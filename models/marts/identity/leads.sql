{{
    config(
        indexes=[{'columns': ['customer_id']}],
        post_hook=[
            "alter table {{ this }} add primary key (lead_id)",
            "alter table {{ this }} add unique (legacy_lead_id)",
        ],
    )
}}

-- One row per lead (sales opportunity): every CRM lead with its id, and every lead the intake
-- rules opened for new records, each linked to its customer when it has a usable phone.
with

touches as (

    select * from {{ ref('int_touches_unioned') }}

),

assignments as (

    select * from {{ ref('int_touches_assigned') }}

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

lead_activity as (

    select
        assignments.lead_id,
        count(*) as touch_count,
        max(touches.touched_at) as last_touched_at,
        array_agg(distinct touches.source order by touches.source) as touch_sources
    from assignments
    inner join touches
        on assignments.touch_id = touches.touch_id
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
        lead_activity.last_touched_at,
        lead_activity.touch_count,
        lead_activity.touch_sources,
        lead_openers.unusable_reason,
        lead_openers.is_test_lead
    from lead_openers
    inner join lead_activity
        on lead_openers.touch_id = lead_activity.lead_id
    left join customers_identified
        on lead_openers.phone_e164 = customers_identified.phone_e164

)

select * from leads

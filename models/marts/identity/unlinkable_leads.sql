{{
    config(
        post_hook=[
            "alter table {{ this }} add primary key (lead_id)",
        ],
    )
}}

-- The review queue: leads that no usable phone ties to a person (empty, not a number, too short
-- or long, invalid, or a test number), with the normaliser's reason and what staff need to fix it.
with

leads as (

    select * from {{ ref('leads') }}

),

touches as (

    select * from {{ ref('int_touches_unioned') }}

),

unlinkable as (

    select
        leads.lead_id,
        leads.legacy_lead_id,
        leads.source,
        leads.external_lead_id,
        lead_openers.phone_raw,
        leads.unusable_reason as reason,
        leads.branch_id,
        leads.status,
        leads.created_at,
        coalesce(lead_openers.crm_full_name, lead_openers.form_full_name) as full_name,
        lead_openers.form_email as email,
        leads.is_test_lead,
        lead_openers.crm_customer_id
    from leads
    inner join touches as lead_openers
        on leads.lead_id = lead_openers.touch_id
    where leads.customer_id is null

)

select * from unlinkable

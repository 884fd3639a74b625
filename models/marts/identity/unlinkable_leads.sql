{{
    config(
        post_hook=[
            "{{ ensure_key('primary key', 'lead_id') }}",
        ],
    )
}}

-- The review queue: leads that no usable phone ties to a person (empty, not a number, too short
-- or long, invalid, or a test number), with the normaliser's reason and what staff need to fix it.
-- Rebuilt by every run (the queue is small; leads finds its rows by index) with the CRM's live
-- customer_id, which publish can change without the row's updated_at.
with

leads as (

    select * from {{ ref('leads') }}

),

touches as (

    select * from {{ ref('int_touches_unioned') }}

),

crm_leads as (

    select * from {{ ref('stg_crm__leads_master') }}

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
        crm_leads.customer_id as crm_customer_id
    from leads
    inner join touches as lead_openers
        on leads.lead_id = lead_openers.touch_id
    left join crm_leads
        on leads.legacy_lead_id = crm_leads.lead_id
    where leads.customer_id is null

)

select * from unlinkable

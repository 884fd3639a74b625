-- Legacy leads keep their ids: fails on each leads_master row that is not a lead of its own.
with

crm_leads as (

    select * from {{ ref('stg_crm__leads_master') }}

),

leads as (

    select * from {{ ref('leads') }}

),

missing as (

    select crm_leads.lead_id
    from crm_leads
    where not exists (
        select from leads
        where leads.legacy_lead_id = crm_leads.lead_id
    )

)

select * from missing

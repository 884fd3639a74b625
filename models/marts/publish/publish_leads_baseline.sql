-- leads_master.customer_id as this build saw it: `leadlink publish` sets a lead's customer_id only
-- while the live row still holds this value (compare-and-set).
with

crm_leads as (

    select * from {{ ref('stg_crm__leads_master') }}

),

baseline as (

    select
        lead_id,
        customer_id,
        updated_at

    from crm_leads

)

select * from baseline

-- The leads_master rows whose customer_id `leadlink publish` would set (it is empty) or change
-- (it points at another customer: a merged duplicate, a junk-number customer, a wrong match),
-- as of this build.
with

crm_leads as (

    select * from {{ ref('stg_crm__leads_master') }}

),

leads as not materialized (

    select * from {{ ref('leads') }}

),

changes as (

    select
        crm_leads.lead_id as legacy_lead_id,
        crm_leads.customer_id as current_customer_id,
        leads.customer_id as new_customer_id,
        case when crm_leads.customer_id is null then 'set' else 'change' end as change_kind
    from crm_leads
    inner join leads
        on crm_leads.lead_id = leads.legacy_lead_id
    where
        leads.customer_id is not null
        and crm_leads.customer_id is distinct from leads.customer_id

)

select * from changes

-- Every call, every Meta lead and every CRM lead row is an inbound contact in lead_touches: fails
-- on each record that is missing (a CRM row exactly once: legacy_lead_id is unique there).
with

knowlarity_calls as (

    select call_uuid from {{ ref('stg_knowlarity__calls') }}

),

meta_leads as (

    select lead_id from {{ ref('stg_meta_lead_ads__leads') }}

),

crm_leads as (

    select lead_id from {{ ref('stg_crm__leads_master') }}

),

-- read three times: inlined into each anti-join (a materialised copy of every touch costs more
-- than the joins)
lead_touches as not materialized (

    select
        source,
        external_id,
        legacy_lead_id
    from {{ ref('lead_touches') }}

),

missing as (

    select
        'knowlarity' as source,
        knowlarity_calls.call_uuid as record_id
    from knowlarity_calls
    where
        not exists (
            select from lead_touches
            where
                lead_touches.source = 'knowlarity'
                and lead_touches.external_id = knowlarity_calls.call_uuid
        )

    union all

    select
        'meta' as source,
        meta_leads.lead_id as record_id
    from meta_leads
    where
        not exists (
            select from lead_touches
            where
                lead_touches.source = 'meta'
                and lead_touches.external_id = meta_leads.lead_id
        )

    union all

    select
        'crm' as source,
        cast(crm_leads.lead_id as text) as record_id
    from crm_leads
    where not exists (
        select from lead_touches
        where lead_touches.legacy_lead_id = crm_leads.lead_id
    )

)

select * from missing

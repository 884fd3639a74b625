-- Knowlarity and Meta leads (not in the CRM export) with their customer and latest raw payload.
-- Only leads whose external id is not yet published (leadlink_publish remembers what it wrote).
with

mart_leads as (
    select
        leads.external_lead_id,
        leads.source,
        leads.customer_id,
        leads.phone_e164,
        leads.status,
        leads.branch_id,
        leads.created_at
    from {analytics}.leads as leads
    where
        leads.legacy_lead_id is null
        and leads.customer_id is not null
        and leads.external_lead_id is not null
        and leads.source in ('knowlarity', 'meta')
        and not exists (
            select from {published_leads} as published
            where published.external_lead_id = leads.external_lead_id
        )
),

knowlarity_payloads as (
    select distinct on (calls.call_uuid)
        calls.call_uuid as external_id,
        calls.payload
    from {raw}.knowlarity_calls as calls
    inner join mart_leads
        on
            calls.call_uuid = mart_leads.external_lead_id
            and mart_leads.source = 'knowlarity'
    order by calls.call_uuid asc, calls.raw_id desc
),

meta_payloads as (
    select distinct on (meta.lead_id)
        meta.lead_id as external_id,
        meta.payload
    from {raw}.meta_leads as meta
    inner join mart_leads
        on meta.lead_id = mart_leads.external_lead_id and mart_leads.source = 'meta'
    order by meta.lead_id asc, meta.raw_id desc
)

select
    mart_leads.external_lead_id,
    mart_leads.source,
    case mart_leads.source
        when 'knowlarity' then 'knowlarity_call'
        when 'meta' then 'meta_form'
    end as source_type,
    mart_leads.customer_id,
    customers.full_name,
    mart_leads.phone_e164,
    mart_leads.status,
    mart_leads.branch_id,
    mart_leads.created_at,
    coalesce(knowlarity_payloads.payload, meta_payloads.payload) as raw_payload
from mart_leads
inner join {analytics}.customers as customers
    on mart_leads.customer_id = customers.customer_id
left join knowlarity_payloads
    on
        mart_leads.source = 'knowlarity'
        and mart_leads.external_lead_id = knowlarity_payloads.external_id
left join meta_payloads
    on mart_leads.source = 'meta' and mart_leads.external_lead_id = meta_payloads.external_id

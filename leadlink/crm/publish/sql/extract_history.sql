-- Cross-source touches (a call or form that joined an existing lead) with their raw payload.
-- Only touches the CRM does not hold yet (the marts' index on touch_origin finds them) whose
-- external id is not yet published (leadlink_publish remembers them).
with

touches as (
    select
        leads.legacy_lead_id as lead_legacy_id,
        leads.external_lead_id as lead_external_id,
        lead_touches.source,
        lead_touches.external_id,
        lead_touches.touched_at as received_at
    from {analytics}.lead_touches as lead_touches
    inner join {analytics}.leads as leads
        on lead_touches.lead_id = leads.lead_id
    where
        -- a record the CRM does not hold yet (a history row it holds is a crm_history touch)
        lead_touches.touch_origin = 'intake'
        and lead_touches.touch_type = 'cross_source'
        and lead_touches.source in ('knowlarity', 'meta')
        and lead_touches.external_id is not null
        and leads.customer_id is not null
        and not exists (
            select from {published_history} as published
            where published.external_id = lead_touches.external_id
        )
),

knowlarity_payloads as (
    select distinct on (calls.call_uuid)
        calls.call_uuid as external_id,
        calls.payload
    from {raw}.knowlarity_calls as calls
    inner join touches
        on calls.call_uuid = touches.external_id and touches.source = 'knowlarity'
    order by calls.call_uuid asc, calls.raw_id desc
),

meta_payloads as (
    select distinct on (meta.lead_id)
        meta.lead_id as external_id,
        meta.payload
    from {raw}.meta_leads as meta
    inner join touches
        on meta.lead_id = touches.external_id and touches.source = 'meta'
    order by meta.lead_id asc, meta.raw_id desc
)

select
    touches.lead_legacy_id,
    touches.lead_external_id,
    touches.source,
    case touches.source
        when 'knowlarity' then 'knowlarity_call'
        when 'meta' then 'meta_form'
    end as source_type,
    touches.external_id,
    touches.received_at,
    coalesce(knowlarity_payloads.payload, meta_payloads.payload) as raw_payload
from touches
left join knowlarity_payloads
    on touches.source = 'knowlarity' and touches.external_id = knowlarity_payloads.external_id
left join meta_payloads
    on touches.source = 'meta' and touches.external_id = meta_payloads.external_id

-- Cross-source touches without their lead_sources_history row yet. lead_id null: the lead is one
-- of the new leads, resolved once it is inserted.
with

crm_by_external as (
    select
        crm_leads.external_lead_id,
        min(crm_leads.id) as lead_id
    from {crm}.leads_master as crm_leads
    where
        crm_leads.external_lead_id in (
            select history.lead_external_id from {pub_history} as history
            union all
            select history.external_id from {pub_history} as history
        )
    group by crm_leads.external_lead_id
),

resolved as (
    select distinct on (
        coalesce(history.lead_legacy_id, own_lead.lead_id),
        history.external_id,
        history.lead_external_id
    )
        coalesce(history.lead_legacy_id, own_lead.lead_id) as lead_id,
        history.lead_external_id,
        crm_sources.id as source_id,
        history.external_id,
        history.raw_payload,
        history.received_at
    from {pub_history} as history
    left join crm_by_external as own_lead
        on history.lead_external_id = own_lead.external_lead_id
    left join lateral (
        select min(sources.id) as id
        from {crm}.sources as sources
        where sources.source_type = history.source_type
    ) as crm_sources on true
    where
        not exists (
            select from crm_by_external as taken
            where taken.external_lead_id = history.external_id
        )
    order by
        coalesce(history.lead_legacy_id, own_lead.lead_id) asc,
        history.external_id asc,
        history.lead_external_id asc,
        history.received_at asc
)

select
    resolved.lead_id,
    resolved.lead_external_id,
    resolved.source_id,
    resolved.external_id,
    resolved.raw_payload,
    resolved.received_at
from resolved
where
    not exists (
        select from {crm}.lead_sources_history as recorded_history
        where
            recorded_history.lead_id = resolved.lead_id
            and recorded_history.external_id = resolved.external_id
    )
    and (
        resolved.lead_id is not null
        or resolved.lead_external_id in (
            select new_leads.external_lead_id from {w_new_leads} as new_leads
        )
    )

-- Mart leads from Knowlarity and Meta the CRM does not have yet (keyed on external_lead_id).
select distinct on (new_leads.external_lead_id)
    new_leads.external_lead_id,
    new_leads.source,
    crm_sources.id as source_id,
    coalesce(targets.target_id, new_leads.customer_id) as customer_id,
    new_leads.full_name,
    new_leads.phone_e164,
    new_leads.status,
    new_leads.branch_id,
    new_leads.created_at,
    new_leads.raw_payload
from {pub_new_leads} as new_leads
left join {pub_customer_targets} as targets
    on new_leads.customer_id = targets.customer_id
left join lateral (
    select min(sources.id) as id
    from {crm}.sources as sources
    where sources.source_type = new_leads.source_type
) as crm_sources on true
where
    -- the plan counts only the leads the CRM does not hold yet; the apply's insert checks that in
    -- the write itself, so its work table leaves out this scan of every CRM lead (check_taken
    -- false: the anti-join's inner side is empty and never read)
    not exists (
        select from {crm}.leads_master as taken
        where
            {check_taken}
            and taken.external_lead_id = new_leads.external_lead_id
    )
order by new_leads.external_lead_id asc, new_leads.created_at asc

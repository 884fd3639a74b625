-- Legacy leads whose customer_id differs from the published one. cas_ok: the live value is
-- still the one the build saw.
select
    links.lead_id,
    crm_leads.customer_id as current_customer_id,
    links.base_customer_id,
    coalesce(targets.target_id, links.customer_id) as new_customer_id,
    links.in_baseline
    and (crm_leads.customer_id is not distinct from links.base_customer_id) as cas_ok
from {pub_lead_links} as links
inner join {crm}.leads_master as crm_leads
    on links.lead_id = crm_leads.id
left join {pub_customer_targets} as targets
    on links.customer_id = targets.customer_id
where crm_leads.customer_id is distinct from coalesce(targets.target_id, links.customer_id)

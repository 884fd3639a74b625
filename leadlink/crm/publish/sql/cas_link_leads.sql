select
    crm_leads.id,
    links.base_customer_id as old_customer_id,
    links.new_customer_id
from {crm}.leads_master as crm_leads
inner join {w_lead_links} as links
    on crm_leads.id = links.lead_id
where
    links.lead_id > %(low)s
    and links.lead_id <= %(high)s
    and links.cas_ok
    and crm_leads.customer_id is not distinct from links.base_customer_id

select
    crm_leads.id,
    repoint.current_customer_id as old_customer_id,
    repoint.new_customer_id
from {crm}.leads_master as crm_leads
inner join {w_repoint} as repoint
    on crm_leads.id = repoint.lead_id
where
    repoint.lead_id > %(low)s
    and repoint.lead_id <= %(high)s
    and crm_leads.customer_id = repoint.current_customer_id

select
    archive.lead_id,
    archive.reason
from {w_archive} as archive
inner join {crm}.leads_master as crm_leads
    on archive.lead_id = crm_leads.id
where
    archive.lead_id > %(low)s
    and archive.lead_id <= %(high)s
    and crm_leads.customer_id is null

-- Unlinkable legacy leads still without a customer_id that only lead_sources_history references.
select
    crm_leads.id as lead_id,
    unlinkable.reason
from {crm}.leads_master as crm_leads
inner join {pub_unlinkable} as unlinkable
    on crm_leads.id = unlinkable.lead_id
where crm_leads.customer_id is null and {not_referenced}

with changes as (
    select distinct on (undo_leads.lead_id)
        undo_leads.lead_id,
        undo_leads.old_customer_id,
        undo_leads.new_customer_id
    from {w_undo_leads} as undo_leads
    where undo_leads.lead_id > %(low)s and undo_leads.lead_id <= %(high)s
    order by undo_leads.lead_id asc
)

update {crm}.leads_master as crm_leads
set customer_id = changes.old_customer_id
from changes
where
    crm_leads.id = changes.lead_id
    and crm_leads.customer_id is not distinct from changes.new_customer_id

-- After an undo: leads whose customer_id still holds exactly what the batch wrote were selected
-- for the restore but not written (a row-level security policy or trigger filtered them).
select count(*) as leads_not_restored
from {pub}.lead_customer_changes as changes
inner join {crm}.leads_master as crm_leads
    on changes.lead_id = crm_leads.id
where
    changes.batch_id = %(batch_id)s
    and changes.new_customer_id is distinct from changes.old_customer_id
    and crm_leads.customer_id is not distinct from changes.new_customer_id

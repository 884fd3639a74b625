delete from {crm}.leads_master as crm_leads
using {pub}.inserted_leads as inserted
where
    inserted.batch_id = %(batch_id)s
    and crm_leads.id = inserted.lead_id
    and {not_referenced}

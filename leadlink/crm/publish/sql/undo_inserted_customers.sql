delete from {crm}.customers as crm_customers
using {pub}.customer_changes as changes
where
    changes.batch_id = %(batch_id)s
    and changes.action = 'insert'
    and crm_customers.id = changes.customer_id
    and not exists (
        select from {crm}.leads_master as crm_leads
        where crm_leads.customer_id = crm_customers.id
    )
    and {not_referenced}

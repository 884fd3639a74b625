select
    crm_customers.id,
    to_jsonb(crm_customers) as old_row
from {crm}.customers as crm_customers
inner join {w_delete_merged} as deletes
    on crm_customers.id = deletes.customer_id
where
    deletes.customer_id > %(low)s
    and deletes.customer_id <= %(high)s
    and crm_customers.merged_into_customer_id is not null
    and not exists (
        select from {crm}.leads_master as crm_leads
        where crm_leads.customer_id = crm_customers.id
    )
    and {not_referenced}

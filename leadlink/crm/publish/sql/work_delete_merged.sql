-- Merged duplicates that nothing references any more.
select crm_customers.id as customer_id
from {crm}.customers as crm_customers
where
    crm_customers.merged_into_customer_id is not null
    and not exists (
        select from {crm}.leads_master as crm_leads
        where crm_leads.customer_id = crm_customers.id
    )
    and {not_referenced}

select
    crm_customers.id,
    to_jsonb(crm_customers) as old_row
from {crm}.customers as crm_customers
inner join {w_merges} as merge_pairs
    on crm_customers.id = merge_pairs.merged_customer_id
where
    merge_pairs.merged_customer_id > %(low)s
    and merge_pairs.merged_customer_id <= %(high)s
    and crm_customers.merged_into_customer_id is null

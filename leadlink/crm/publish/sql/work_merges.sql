-- Merged duplicates not yet marked (the column may not exist yet: read through the row's json).
select
    merge_pairs.merged_customer_id,
    merge_pairs.surviving_customer_id
from {pub_merges} as merge_pairs
inner join {crm}.customers as crm_customers
    on merge_pairs.merged_customer_id = crm_customers.id
where
    (to_jsonb(crm_customers) ->> 'merged_into_customer_id')::bigint
    is distinct from merge_pairs.surviving_customer_id

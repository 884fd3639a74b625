select distinct
    merge_pairs.merged_customer_id,
    merge_pairs.surviving_customer_id
from {analytics}.customer_merges as merge_pairs
where merge_pairs.merged_customer_id is distinct from merge_pairs.surviving_customer_id

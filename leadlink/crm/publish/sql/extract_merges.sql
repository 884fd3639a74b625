-- Merges publish still has work for: not yet marked in the CRM as the build saw it, or with
-- leads_master rows on the duplicate to repoint. A merge done in full is not staged again, so a
-- publish does not re-join every merge of the CRM's history (a lead the app puts on a marked
-- duplicate after the build shows up in the next build's leads_master_count).
select distinct
    merge_pairs.merged_customer_id,
    merge_pairs.surviving_customer_id
from {analytics}.customer_merges as merge_pairs
where
    merge_pairs.merged_customer_id is distinct from merge_pairs.surviving_customer_id
    and (not merge_pairs.is_marked_in_crm or merge_pairs.leads_master_count > 0)

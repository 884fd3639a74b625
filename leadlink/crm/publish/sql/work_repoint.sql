-- Other leads (created by the app after the build, say) still pointing at a merged duplicate.
select
    crm_leads.id as lead_id,
    crm_leads.customer_id as current_customer_id,
    merge_pairs.surviving_customer_id as new_customer_id
from {crm}.leads_master as crm_leads
inner join {pub_merges} as merge_pairs
    on crm_leads.customer_id = merge_pairs.merged_customer_id
where not exists (
    select from {pub_lead_links} as links
    where links.lead_id = crm_leads.id
)

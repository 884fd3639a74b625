-- leads_master.customer_id as it would stand after the steps (archived rows gone when archiving).
select
    coalesce(
        case when links.cas_ok then links.new_customer_id end,
        repoint.new_customer_id,
        crm_leads.customer_id
    ) as customer_id
from {crm}.leads_master as crm_leads
left join {w_lead_links} as links
    on crm_leads.id = links.lead_id
left join {w_repoint} as repoint
    on crm_leads.id = repoint.lead_id
left join {w_archive} as archive
    on crm_leads.id = archive.lead_id
where not (archive.lead_id is not null and %(archiving)s)

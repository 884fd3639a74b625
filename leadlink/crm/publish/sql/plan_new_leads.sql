select
    new_leads.source,
    count(*) as to_insert,
    count(*) filter (where new_leads.source_id is null) as without_crm_source
from {w_new_leads} as new_leads
group by new_leads.source
order by new_leads.source

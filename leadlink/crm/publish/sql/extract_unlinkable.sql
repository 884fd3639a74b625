select
    leads.legacy_lead_id as lead_id,
    coalesce(min(unlinkable.reason), 'no usable phone') as reason
from {analytics}.leads as leads
left join {analytics}.unlinkable_leads as unlinkable
    on leads.lead_id = unlinkable.lead_id
where leads.legacy_lead_id is not null and leads.customer_id is null
group by leads.legacy_lead_id

-- Legacy leads the marts link to another customer than the one the build saw.
select
    leads.legacy_lead_id as lead_id,
    leads.customer_id,
    baseline.lead_id is not null as in_baseline,
    baseline.customer_id as base_customer_id
from {analytics}.leads as leads
left join {analytics}.publish_leads_baseline as baseline
    on leads.legacy_lead_id = baseline.lead_id
where
    leads.legacy_lead_id is not null
    and leads.customer_id is not null
    and (baseline.lead_id is null or baseline.customer_id is distinct from leads.customer_id)

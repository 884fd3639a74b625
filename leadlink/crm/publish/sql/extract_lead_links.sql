-- Legacy leads the marts link to another customer than the one the build saw (the baseline
-- holds exactly those rows, with the value seen).
select
    baseline.lead_id,
    leads.customer_id,
    true as in_baseline,
    baseline.customer_id as base_customer_id
from {analytics}.publish_leads_baseline as baseline
inner join {analytics}.leads as leads
    on baseline.lead_id = leads.legacy_lead_id
where
    leads.customer_id is not null
    and baseline.customer_id is distinct from leads.customer_id

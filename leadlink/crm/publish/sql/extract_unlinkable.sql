-- The CRM's leads in the review queue: no usable phone ties them to a person (unlinkable_leads
-- holds every lead built without a customer, with the normaliser's reason). Read from the queue,
-- not by scanning every lead for a missing customer: the queue is what changes.
select
    unlinkable.legacy_lead_id as lead_id,
    coalesce(unlinkable.reason, 'no usable phone') as reason
from {analytics}.unlinkable_leads as unlinkable
where unlinkable.legacy_lead_id is not null

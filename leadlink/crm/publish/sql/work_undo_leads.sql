select
    changes.lead_id,
    changes.old_customer_id,
    changes.new_customer_id
from {pub}.lead_customer_changes as changes
where changes.batch_id = %(batch_id)s

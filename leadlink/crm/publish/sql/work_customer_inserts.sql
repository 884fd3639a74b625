select
    mart_customers.customer_id,
    mart_customers.phone_e164,
    mart_customers.full_name,
    mart_customers.email,
    mart_customers.city,
    mart_customers.first_seen_at
from {pub_customers} as mart_customers
inner join {pub_customer_targets} as targets
    on mart_customers.customer_id = targets.customer_id
where not targets.in_crm and targets.target_id = mart_customers.customer_id

-- The facts the foreign key and NOT NULL on leads_master.customer_id depend on, in one place:
-- leads pointing at a customer id that does not exist, and leads without a customer_id.
-- {lead_customers}: rows with a customer_id column (the live table, or the state the plan
-- predicts); {customer_ids}: rows with the ids that exist (an id column).
select
    count(*) filter (
        where
        lead_customers.customer_id is not null
        and not exists (
            select from {customer_ids} as known_customers
            where known_customers.id = lead_customers.customer_id
        )
    ) as missing_customer,
    count(*) filter (where lead_customers.customer_id is null) as without_customer
from {lead_customers} as lead_customers

-- Mart customers the CRM does not have yet, and those whose values differ from the CRM row the
-- build saw (publish_customers_baseline holds only those, with that row for compare-and-set): a
-- customer equal to its snapshot is already right or edited by the app since. Two reads, each by
-- an index (customers.is_in_crm, the baseline's key), not a scan of every mart customer.
select
    customers.customer_id,
    customers.phone_e164,
    customers.full_name,
    customers.email,
    customers.city,
    customers.first_seen_at,
    baseline.customer_id is not null as in_baseline,
    baseline.phone_number_raw as base_phone,
    baseline.full_name as base_full_name,
    baseline.email as base_email,
    baseline.city as base_city,
    baseline.updated_at as base_updated_at
from {analytics}.customers as customers
left join {analytics}.publish_customers_baseline as baseline
    on customers.customer_id = baseline.customer_id
where not customers.is_in_crm
union all
select
    customers.customer_id,
    customers.phone_e164,
    customers.full_name,
    customers.email,
    customers.city,
    customers.first_seen_at,
    true as in_baseline,
    baseline.phone_number_raw as base_phone,
    baseline.full_name as base_full_name,
    baseline.email as base_email,
    baseline.city as base_city,
    baseline.updated_at as base_updated_at
from {analytics}.publish_customers_baseline as baseline
inner join {analytics}.customers as customers
    on baseline.customer_id = customers.customer_id
where customers.is_in_crm

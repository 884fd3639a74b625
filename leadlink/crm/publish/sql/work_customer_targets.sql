-- The CRM id each staged mart customer is published as: its own id, or, when the app created a
-- row for the same number after the build (in any writing), that row's id.
select
    mart_customers.customer_id,
    by_id.id is not null as in_crm,
    coalesce(by_id.id, by_phone.customer_id, mart_customers.customer_id) as target_id
from {pub_customers} as mart_customers
left join {crm}.customers as by_id
    on mart_customers.customer_id = by_id.id
left join lateral (
    select min(matches.customer_id) as customer_id
    from {pub_phone_matches} as matches
    inner join {crm}.customers as crm_customers
        on matches.customer_id = crm_customers.id
    where matches.phone_e164 = mart_customers.phone_e164
) as by_phone on true

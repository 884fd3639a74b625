-- CRM customers whose stored phone may be the same number as a mart customer about to be
-- inserted (same last seven digits, whatever the writing); the normaliser confirms them.
select
    crm_customers.id as customer_id,
    crm_customers.phone_number_normalized as phone_raw
from {crm}.customers as crm_customers
where right(regexp_replace(crm_customers.phone_number_normalized, '[^0-9]', '', 'g'), 7) in (
    select right(mart_customers.phone_e164, 7)
    from {pub_customers} as mart_customers
    where
        not exists (
            select from {crm}.customers as by_id
            where by_id.id = mart_customers.customer_id
        )
)

-- CRM customers whose stored phone may be the same number as a mart customer about to be
-- inserted (same last seven digits, whatever the writing); the normaliser confirms them. Only
-- customers written since the build can be one (the build read the others): the cheap test of
-- the row's version comes first, the regular expression only for those.
select
    crm_customers.id as customer_id,
    crm_customers.phone_number_normalized as phone_raw
from {crm}.customers as crm_customers
where
    {written_since_build}
    and right(regexp_replace(crm_customers.phone_number_normalized, '[^0-9]', '', 'g'), 7) in (
        select right(mart_customers.phone_e164, 7)
        from {pub_customers} as mart_customers
        where
            not exists (
                select from {crm}.customers as by_id
                where by_id.id = mart_customers.customer_id
            )
    )

-- Existing customers whose published values differ from the live row. cas_ok: the live row
-- still holds what the build saw (normalised as stg_crm__customers does), so it may be written.
-- The phone is only rewritten while no other row holds that exact string (it is unique).
with

compared as (
    select
        mart_customers.customer_id,
        -- the mart's E.164 unless another row holds it (the dbt macro publishable_phone)
        {new_phone} as new_phone,
        coalesce(mart_customers.full_name, crm_customers.full_name) as new_full_name,
        coalesce(mart_customers.email, crm_customers.email) as new_email,
        coalesce(mart_customers.city, crm_customers.city) as new_city,
        crm_customers.phone_number_normalized as live_phone,
        crm_customers.full_name as live_full_name,
        crm_customers.email as live_email,
        crm_customers.city as live_city,
        mart_customers.base_phone,
        mart_customers.base_full_name,
        mart_customers.base_email,
        mart_customers.base_city,
        mart_customers.base_updated_at,
        mart_customers.in_baseline
        and ((
            crm_customers.phone_number_normalized,
            nullif(trim(crm_customers.full_name), ''),
            nullif(lower(trim(crm_customers.email)), ''),
            nullif(trim(crm_customers.city), ''),
            crm_customers.updated_at
        ) is not distinct from (
            mart_customers.base_phone,
            mart_customers.base_full_name,
            mart_customers.base_email,
            mart_customers.base_city,
            mart_customers.base_updated_at
        )) as cas_ok
    from {pub_customers} as mart_customers
    inner join {crm}.customers as crm_customers
        on mart_customers.customer_id = crm_customers.id
    left join {crm}.customers as phone_holder
        on
            mart_customers.phone_e164 = phone_holder.phone_number_normalized
            and mart_customers.customer_id <> phone_holder.id
)

select
    compared.customer_id,
    compared.new_phone,
    compared.new_full_name,
    compared.new_email,
    compared.new_city,
    compared.base_phone,
    compared.base_full_name,
    compared.base_email,
    compared.base_city,
    compared.base_updated_at,
    compared.cas_ok
from compared
where
    (compared.new_phone, compared.new_full_name, compared.new_email, compared.new_city)
    is distinct from
    (compared.live_phone, compared.live_full_name, compared.live_email, compared.live_city)

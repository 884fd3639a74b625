-- The customers of one key range that the update may still write: the live row holds what the
-- build saw and no other row took the new phone string. Shared by the write and its check.
select
    crm_customers.id,
    to_jsonb(crm_customers) as old_row
from {crm}.customers as crm_customers
inner join {w_customer_updates} as updates
    on crm_customers.id = updates.customer_id
where
    updates.customer_id > %(low)s
    and updates.customer_id <= %(high)s
    and updates.cas_ok
    and (
        crm_customers.phone_number_normalized,
        nullif(trim(crm_customers.full_name), ''),
        nullif(lower(trim(crm_customers.email)), ''),
        nullif(trim(crm_customers.city), ''),
        crm_customers.updated_at
    ) is not distinct from (
        updates.base_phone,
        updates.base_full_name,
        updates.base_email,
        updates.base_city,
        updates.base_updated_at
    )
    and not exists (
        select from {crm}.customers as phone_holder
        where
            phone_holder.phone_number_normalized = updates.new_phone
            and phone_holder.id <> crm_customers.id
    )

with inserted as (
    insert into {crm}.customers as crm_customers (
        id, phone_number_normalized, full_name, email, city, created_at, updated_at
    )
    overriding system value
    select
        inserts.customer_id,
        inserts.phone_e164,
        inserts.full_name,
        inserts.email,
        inserts.city,
        now(),
        now()
    from {w_customer_inserts} as inserts
    where inserts.customer_id > %(low)s and inserts.customer_id <= %(high)s
    on conflict do nothing
    returning crm_customers.id, to_jsonb(crm_customers) as new_row
)

insert into {pub}.customer_changes (batch_id, customer_id, action, new_row)
select
    %(batch_id)s,
    inserted.id,
    'insert',
    inserted.new_row
from inserted

with

before_rows as (
    {candidates}
    for update of crm_customers
),

updated as (
    update {crm}.customers as crm_customers
    set
        phone_number_normalized = updates.new_phone,
        full_name = updates.new_full_name,
        email = updates.new_email,
        city = updates.new_city,
        updated_at = now()
    from before_rows
    inner join {w_customer_updates} as updates
        on before_rows.id = updates.customer_id
    where crm_customers.id = before_rows.id
    returning crm_customers.id, before_rows.old_row, to_jsonb(crm_customers) as new_row
)

insert into {pub}.customer_changes (batch_id, customer_id, action, old_row, new_row)
select
    %(batch_id)s,
    updated.id,
    'update',
    updated.old_row,
    updated.new_row
from updated

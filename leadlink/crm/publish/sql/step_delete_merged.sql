with

before_rows as (
    {candidates}
    for update of crm_customers
),

deleted as (
    delete from {crm}.customers as crm_customers
    using before_rows
    where crm_customers.id = before_rows.id
    returning crm_customers.id, before_rows.old_row
)

insert into {pub}.customer_changes (batch_id, customer_id, action, old_row)
select
    %(batch_id)s,
    deleted.id,
    'delete',
    deleted.old_row
from deleted

insert into {crm}.customers ({columns}) overriding system value
select {record_columns}  -- noqa: RF01
from {pub}.customer_changes as changes
cross join
    lateral jsonb_populate_record(null::{crm}.customers, changes.old_row) as record  -- noqa: AL05
where
    changes.batch_id = %(batch_id)s
    and changes.action = 'delete'
    and not exists (
        select from {crm}.customers as crm_customers
        where crm_customers.id = changes.customer_id
    )

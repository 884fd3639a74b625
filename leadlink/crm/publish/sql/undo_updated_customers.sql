-- Updated and marked customers get their old values back while every value the batch wrote is
-- still there (columns dropped or added since the apply are ignored; {assignments} sets each
-- column from the old row only when the old row has it).
update {crm}.customers as crm_customers
set {assignments}
from {pub}.customer_changes as changes
cross join lateral jsonb_populate_record(null::{crm}.customers, changes.old_row) as record
where
    changes.batch_id = %(batch_id)s
    and changes.action in ('update', 'mark_merged')
    and crm_customers.id = changes.customer_id
    and not exists (
        -- noqa: disable=RF01
        select from jsonb_each(changes.new_row) as written (column_name, written_value)
        where
            to_jsonb(crm_customers.*) ? written.column_name
            and to_jsonb(crm_customers.*) -> written.column_name
            is distinct from written.written_value
    )

-- Archived rows back into their table (leads_master or lead_sources_history), with the columns
-- both the row and the table still have.
with restored as (
    update {pub}.archived_rows as archived
    set restored_at = clock_timestamp()
    where
        archived.batch_id = %(batch_id)s
        and archived.table_name = %(table_name)s
        and archived.restored_at is null
    returning archived.row_data
)

insert into {archived_table} ({columns}) overriding system value
select {record_columns}  -- noqa: RF01
from restored
cross join
    lateral jsonb_populate_record(null::{archived_table}, restored.row_data) as record -- noqa: AL05

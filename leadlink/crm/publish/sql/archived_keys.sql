select distinct jsonb_object_keys(archived.row_data) as column_name
from {pub}.archived_rows as archived
where archived.batch_id = %(batch_id)s and archived.table_name = %(table_name)s

-- The newest batch after this one that changed something and is not undone.
select max(batches.batch_id) as batch_id
from {pub}.batches as batches
where
    batches.batch_id > %(batch_id)s
    and batches.crm_schema = %(crm_schema)s
    and batches.status <> 'undone'
    and (
        exists (
            select from {pub}.customer_changes as changes
            where changes.batch_id = batches.batch_id
        )
        or exists (
            select from {pub}.lead_customer_changes as changes
            where changes.batch_id = batches.batch_id
        )
        or exists (
            select from {pub}.inserted_leads as changes
            where changes.batch_id = batches.batch_id
        )
        or exists (
            select from {pub}.inserted_history as changes
            where changes.batch_id = batches.batch_id
        )
        or exists (
            select from {pub}.archived_rows as changes
            where changes.batch_id = batches.batch_id
        )
        or exists (
            select from {pub}.schema_changes as changes
            where changes.batch_id = batches.batch_id
        )
    )

with

before_rows as (
    {candidates}
    for update of crm_customers
),

updated as (
    update {crm}.customers as crm_customers
    set merged_into_customer_id = merge_pairs.surviving_customer_id
    from before_rows
    inner join {w_merges} as merge_pairs
        on before_rows.id = merge_pairs.merged_customer_id
    where crm_customers.id = before_rows.id
    returning crm_customers.id, before_rows.old_row, to_jsonb(crm_customers) as new_row
)

insert into {pub}.customer_changes (batch_id, customer_id, action, old_row, new_row)
select
    %(batch_id)s,
    updated.id,
    'mark_merged',
    updated.old_row,
    updated.new_row
from updated

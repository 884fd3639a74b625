-- Both lead steps: set customer_id on the candidate rows ({candidates}: cas_link_leads.sql or
-- cas_repoint_leads.sql) and record the old value.
with

before_rows as (
    {candidates}
    for update of crm_leads
),

updated as (
    update {crm}.leads_master as crm_leads
    set customer_id = before_rows.new_customer_id
    from before_rows
    where crm_leads.id = before_rows.id
    returning crm_leads.id, before_rows.old_customer_id, before_rows.new_customer_id
)

insert into {pub}.lead_customer_changes (batch_id, lead_id, old_customer_id, new_customer_id)
select
    %(batch_id)s,
    updated.id,
    updated.old_customer_id,
    updated.new_customer_id
from updated

with

moving as (
    {candidates}
),

history as (
    delete from {crm}.lead_sources_history as history
    using moving
    where history.lead_id = moving.lead_id
    returning history.lead_id, to_jsonb(history) as row_data
),

archived_history as (
    insert into {pub}.archived_rows (batch_id, table_name, row_id, row_data, reason)
    select
        %(batch_id)s,
        'lead_sources_history',
        history.lead_id,
        history.row_data,
        'moved with its unlinkable lead'
    from history
),

leads as (
    delete from {crm}.leads_master as crm_leads
    using moving
    where crm_leads.id = moving.lead_id and crm_leads.customer_id is null
    returning crm_leads.id, to_jsonb(crm_leads) as row_data, moving.reason
)

insert into {pub}.archived_rows (batch_id, table_name, row_id, row_data, reason)
select
    %(batch_id)s,
    'leads_master',
    leads.id,
    leads.row_data,
    leads.reason
from leads

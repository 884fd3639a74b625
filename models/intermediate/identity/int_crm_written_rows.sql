{{
    config(
        indexes=[{'columns': ['crm_table', 'row_id']}],
        post_hook=["analyze {{ this }}"],
    )
}}

-- The CRM's leads_master and customers rows written since the last complete run, by anyone: the
-- app, staff, the intake scripts, `leadlink publish` (which sets customer_id and marks merges
-- without touching updated_at). One scan of each table by row version (macros/crm_writes.sql),
-- so the models that compare the CRM's live values with the marts (customer_merges,
-- unlinkable_leads, leads_master_customer_id_changes, publish_customers_baseline, the readiness
-- facts) compare only these rows, not every row. Empty when the run rebuilds everything.
-- Deleted rows leave no version: int_identity_changes finds those (crm_lead, crm_customer).
with

batch as (

    select * from {{ ref('int_identity_batch') }}

),

crm_leads as (

    select
        lead_id,
        row_version_age
    from {{ ref('stg_crm__leads_master') }}

),

crm_customers as (

    select
        customer_id,
        row_version_age
    from {{ ref('stg_crm__customers') }}

),

written as (

    select
        'leads_master' as crm_table,
        crm_leads.lead_id as row_id
    from crm_leads
    where {{ crm_row_written_since(
        'crm_leads.row_version_age', '(select batch.crm_written_since from batch)'
    ) }}
    union all
    select
        'customers' as crm_table,
        crm_customers.customer_id as row_id
    from crm_customers
    where {{ crm_row_written_since(
        'crm_customers.row_version_age', '(select batch.crm_written_since from batch)'
    ) }}

)

select written.*
from written
where not (select batch.is_everything from batch)

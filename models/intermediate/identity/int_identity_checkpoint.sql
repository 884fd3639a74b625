-- depends_on: {{ ref('customers') }}
-- depends_on: {{ ref('leads') }}
-- depends_on: {{ ref('lead_touches') }}
-- depends_on: {{ ref('unlinkable_leads') }}
-- depends_on: {{ ref('customer_merges') }}
-- depends_on: {{ ref('leads_master_customer_id_changes') }}
-- depends_on: {{ ref('readiness_failing_leads') }}
-- depends_on: {{ ref('publish_customers_baseline') }}
-- The watermarks the identity models were last built through, written only once every identity
-- mart of the run and every mart kept up to date by CRM writes (int_crm_written_rows) is built
-- (a failed model or test skips it): the next run re-reads from here, so a failed run's changes
-- are processed again, never lost.
with

batch as (

    select * from {{ ref('int_identity_batch') }}

),

checkpoint as (

    select
        run_number,
        calls_landed_through,
        meta_landed_through,
        crm_lead_count,
        crm_lead_max_id,
        crm_customer_count,
        crm_customer_max_id,
        crm_history_received_through,
        crm_history_count,
        rules_fingerprint,
        crm_write_horizon
    from batch

)

select * from checkpoint

-- depends_on: {{ ref('customers') }}
-- depends_on: {{ ref('leads') }}
-- depends_on: {{ ref('lead_touches') }}
-- depends_on: {{ ref('unlinkable_leads') }}
-- depends_on: {{ ref('customer_merges') }}
-- The watermarks the identity models were last built through, written only once every identity
-- mart of the run is built (a failed model or test skips it): the next run re-reads from here,
-- so a failed run's changes are processed again, never lost.
with

batch as (

    select * from {{ ref('int_identity_batch') }}

),

checkpoint as (

    select
        run_number,
        calls_landed_through,
        meta_landed_through,
        crm_leads_changed_through,
        crm_lead_count,
        crm_lead_max_id,
        crm_customers_changed_through,
        crm_customer_count,
        crm_customer_max_id,
        crm_history_received_through,
        crm_history_count,
        rules_fingerprint
    from batch

)

select * from checkpoint

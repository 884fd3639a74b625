{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='merged_customer_id',
        on_schema_change='append_new_columns',
        pre_hook=["{{ identity_replace_scope(customer_merges_stale()) }}"],
        post_hook=[
            "{{ ensure_key('primary key', 'merged_customer_id') }}",
            "{{ ensure_index('leads_master_ids', 'gin') }}",
        ],
    )
}}

-- depends_on: {{ ref('int_identity_batch') }}
-- depends_on: {{ ref('int_identity_changes') }}
-- depends_on: {{ ref('int_crm_written_rows') }}
-- CRM customers that are one person (their stored phones normalise to one E.164): each merged
-- (non-surviving) customer, the survivor (lowest id) and the leads_master rows that point at the
-- merged one and so must be repointed, and whether the CRM already marks the merge (publish then
-- has nothing left to do for it).
-- Incremental: the pre-hook (customer_merges_stale) deletes the rows whose customers the run
-- reads again (crm_customer); the run builds those again, and replaces the rows of every merged
-- customer a CRM write since the last run touches (customer_merges_touched_by_writes: publish
-- repoints leads and marks merges without touching updated_at). Every other row still holds
-- what the CRM holds: nothing it was built from was written since.
{%- set restricted = identity_is_restricted() %}
with

crm_customers as not materialized (

    select * from {{ ref('int_crm_customers_normalized') }}

),

crm_leads as (

    select * from {{ ref('stg_crm__leads_master') }}

),

crm_marks as (

    select * from {{ ref('stg_crm__customers') }}

),

merged as (

    select * from crm_customers
    where is_merged
    {%- if restricted %}
        -- those read again (their rows the pre-hook deleted) and those CRM writes touched
        and customer_id in {{ customer_merges_touched_by_writes() }}
    {%- endif %}

),

survivors as (

    select * from crm_customers
    where customer_id in (select merged.surviving_customer_id from merged)

),

pointing_leads as (

    select
        crm_leads.customer_id,
        array_agg(crm_leads.lead_id order by crm_leads.lead_id) as lead_ids
    from crm_leads
    inner join merged
        on crm_leads.customer_id = merged.customer_id
    group by crm_leads.customer_id

),

customer_merges as (

    select
        merged.customer_id as merged_customer_id,
        merged.surviving_customer_id,
        merged.phone_e164,
        merged.phone_number_raw as merged_phone_raw,
        survivors.phone_number_raw as surviving_phone_raw,
        coalesce(pointing_leads.lead_ids, cast(array[] as bigint[])) as leads_master_ids,
        coalesce(cardinality(pointing_leads.lead_ids), 0) as leads_master_count,
        coalesce(crm_marks.merged_into_customer_id = merged.surviving_customer_id, false)
            as is_marked_in_crm
    from merged
    inner join survivors
        on merged.surviving_customer_id = survivors.customer_id
    left join pointing_leads
        on merged.customer_id = pointing_leads.customer_id
    left join crm_marks
        on merged.customer_id = crm_marks.customer_id

)

select * from customer_merges

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook=["{{ identity_replace_scope(customers_baseline_stale()) }}"],
    )
}}

-- depends_on: {{ ref('int_identity_batch') }}
-- depends_on: {{ ref('int_identity_changes') }}
-- depends_on: {{ ref('int_identity_people') }}
-- depends_on: {{ ref('int_crm_written_rows') }}
-- The CRM's customers as this build saw them, for those whose values the marts would change:
-- `leadlink publish` updates a customer only while the live row still holds these values
-- (compare-and-set), so an edit the app makes after the build is never overwritten. A customer
-- the build saw already right is not here, so the cost of a publish follows what changed.
-- Incremental: a row changes only when its CRM customer is written (int_crm_written_rows) or its
-- mart customer is rebuilt; the pre-hook (customers_baseline_stale) deletes the rows of those
-- customers and the run compares just them again.
{%- set restricted = identity_is_restricted() %}
with

crm_customers as (

    select * from {{ ref('stg_crm__customers') }}
    {%- if restricted %}
        where customer_id in {{ customers_baseline_scope() }}
    {%- endif %}

),

mart_customers as (

    select * from {{ ref('customers') }}

),

baseline as (

    select
        crm_customers.customer_id,
        crm_customers.phone_number_raw,
        crm_customers.full_name,
        crm_customers.email,
        crm_customers.city,
        crm_customers.updated_at

    from crm_customers
    inner join mart_customers
        on crm_customers.customer_id = mart_customers.customer_id
    where
        (
            mart_customers.phone_e164,
            mart_customers.full_name,
            mart_customers.email,
            mart_customers.city
        )
        is distinct from
        (
            crm_customers.phone_number_raw,
            crm_customers.full_name,
            crm_customers.email,
            crm_customers.city
        )

)

select * from baseline

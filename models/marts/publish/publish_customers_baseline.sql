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
-- publish would leave as it is (already right, or its phone held by a duplicate) is not here,
-- so the cost of a publish follows what changed.
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

-- another CRM customer holding a mart customer's E.164 exactly: publish leaves that phone alone
phone_holders as not materialized (

    select
        customer_id,
        phone_number_raw
    from {{ ref('stg_crm__customers') }}

),

-- what publish would write, as it writes it (publishable_phone; a missing name, email or city
-- keeps the CRM's), against what the CRM holds: a customer it would leave as it is is not here,
-- though the marts store its phone in another writing (its duplicate holds that one)
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
    left join phone_holders as phone_holder
        on
            mart_customers.phone_e164 = phone_holder.phone_number_raw
            and crm_customers.customer_id <> phone_holder.customer_id
    where
        (
            {{ publishable_phone(
                'mart_customers.phone_e164',
                'crm_customers.phone_number_raw',
                'phone_holder.customer_id'
            ) }},
            coalesce(mart_customers.full_name, crm_customers.full_name),
            coalesce(mart_customers.email, crm_customers.email),
            coalesce(mart_customers.city, crm_customers.city)
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

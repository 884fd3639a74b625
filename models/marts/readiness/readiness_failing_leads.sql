{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook=["{{ identity_replace_scope('legacy_lead_id in ' ~ readiness_leads_scope()) }}"],
        post_hook=["{{ ensure_key('primary key', 'legacy_lead_id') }}"],
    )
}}

-- depends_on: {{ ref('int_identity_batch') }}
-- depends_on: {{ ref('int_identity_changes') }}
-- depends_on: {{ ref('int_crm_written_rows') }}
-- The leads_master rows that fail a readiness check by their own values: no customer_id (NOT
-- NULL), a customer_id that is no customers.id (FOREIGN KEY), linked to a customer although
-- their phone or the customer's is a test number. readiness_checks counts them.
-- Incremental, so the facts are kept, not recounted over the whole CRM: a lead's facts change
-- only when the lead is written or its customer is (created, deleted, a phone edited); the
-- pre-hook deletes the rows of those leads (readiness_leads_scope) and the run checks just them
-- again. `leadlink readiness --refresh` rebuilds it whole.
{%- set restricted = identity_is_restricted() %}
with

-- restricted: the few leads in scope, found once; else inlined into each read
crm_leads as {{ 'materialized' if restricted else 'not materialized' }} (

    select
        lead_id,
        customer_id,
        phone_number_raw
    from {{ ref('stg_crm__leads_master') }}
    {%- if restricted %}
        where lead_id in {{ readiness_leads_scope() }}
    {%- endif %}

),

crm_customers as not materialized (

    select * from {{ ref('stg_crm__customers') }}

),

phone_numbers as not materialized (

    select * from {{ ref('int_phone_numbers') }}

),

crm_customer_ids as not materialized (

    select customer_id as id from crm_customers

),

-- without a customer, or on one that does not exist: defined once (the macro), and publish
-- checks the same on the live tables and on the state its plan predicts
customer_id_violations as (

    {{ lead_customer_violation_rows('crm_leads', 'crm_customer_ids') }}

),

test_phones as (

    select phone_raw from phone_numbers
    where is_test_number

),

customers_on_test_numbers as (

    select customer_id from crm_customers
    where
        coalesce(phone_number_raw, '') in (select test_phones.phone_raw from test_phones)
    {%- if restricted %}
        and customer_id in (select crm_leads.customer_id from crm_leads)
    {%- endif %}

),

leads_on_test_numbers as (

    select crm_leads.lead_id
    from crm_leads
    where
        crm_leads.customer_id is not null
        and coalesce(crm_leads.phone_number_raw, '')
        in (select test_phones.phone_raw from test_phones)
    union
    select crm_leads.lead_id
    from customers_on_test_numbers
    inner join crm_leads
        on customers_on_test_numbers.customer_id = crm_leads.customer_id

),

failing_leads as (

    select
        coalesce(customer_id_violations.lead_id, leads_on_test_numbers.lead_id) as legacy_lead_id,
        coalesce(customer_id_violations.is_without_customer, false) as is_without_customer_id,
        coalesce(not customer_id_violations.is_without_customer, false)
            as is_on_unknown_customer,
        leads_on_test_numbers.lead_id is not null as is_on_test_number
    from customer_id_violations
    full outer join leads_on_test_numbers
        on customer_id_violations.lead_id = leads_on_test_numbers.lead_id

)

select * from failing_leads

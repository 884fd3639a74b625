{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='sync_all_columns',
        indexes=[
            {'columns': ['customer_id'], 'unique': True},
            {'columns': ['phone_e164']},
            {'columns': ['is_merged']},
        ],
        pre_hook=["{{ identity_replace_scope(identity_rebuilt_rows('int_crm_customers_normalized', this)) }}"],
        post_hook=["{{ identity_refresh_statistics() }}"],
    )
}}

-- depends_on: {{ ref('int_identity_batch') }}
-- depends_on: {{ ref('int_identity_changes') }}
-- The CRM's customers with the E.164 of their stored phone, and which of them survives when
-- several are the same person: the lowest id (the oldest row, the one other tables most likely
-- point at). A customer whose phone is junk or invalid has no E.164 here and survives nothing.
-- Incremental: a run reads again the customers of int_identity_changes (kind crm_customer: the
-- changed ones and every other customer of their people, so the survivor is right).
{%- set restricted = identity_is_restricted() %}
with

batch as (

    select run_number from {{ ref('int_identity_batch') }}

),

crm_customers as (

    select * from {{ ref('stg_crm__customers') }}
    {%- if restricted %}
        where customer_id in {{ identity_changed('crm_customer', 'bigint') }}
    {%- endif %}

),

phone_numbers as (

    select * from {{ ref('int_phone_numbers') }}

),

normalized as (

    select
        crm_customers.customer_id,
        crm_customers.phone_number_raw,
        {{ person_e164('phone_numbers') }} as phone_e164,
        {{ person_unusable_reason('phone_numbers') }} as unusable_reason,
        crm_customers.full_name,
        crm_customers.email,
        crm_customers.city,
        crm_customers.created_at,
        crm_customers.updated_at
    from crm_customers
    left join phone_numbers
        on coalesce(crm_customers.phone_number_raw, '') = phone_numbers.phone_raw

),

survivors as (

    select
        *,
        case
            when phone_e164 is not null
                then min(customer_id) over (partition by phone_e164)
        end as surviving_customer_id
    from normalized

),

flagged as (

    select
        *,
        coalesce(customer_id <> surviving_customer_id, false) as is_merged,
        -- the run that read this version of the row (see int_identity_changes)
        (select batch.run_number from batch) as read_in_run
    from survivors

)

select * from flagged

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='sync_all_columns',
        indexes=[{'columns': ['phone_e164'], 'unique': True}],
        pre_hook=["{{ identity_replace_scope(identity_rebuilt_rows('int_customers_identified', this)) }}"],
        post_hook=[
            "{{ identity_refresh_statistics() }}",
            "{{ ensure_key('unique', 'customer_id') }}",
        ],
    )
}}

-- depends_on: {{ ref('int_identity_batch') }}
-- depends_on: {{ ref('int_identity_changes') }}
-- depends_on: {{ ref('int_identity_people') }}
-- One customer_id per person (usable E.164), for good: the CRM's id when the CRM has the person
-- (the survivor of a merge), else an id computed from the phone (macro stable_customer_id), which
-- no run, --full-refresh or arrival order can change. Junk and invalid numbers are nobody.
-- Incremental: a run identifies again the people of int_identity_people only. customer_id is a
-- unique key of the table (its unique test then reads the catalog, not every row).
{%- set restricted = identity_is_restricted() %}
with

touches as (

    select * from {{ ref('int_touches_unioned') }}
    {%- if restricted %}
        where phone_e164 in {{ identity_people() }}
    {%- endif %}

),

crm_customers as not materialized (

    select * from {{ ref('int_crm_customers_normalized') }}
    {%- if restricted %}
        where phone_e164 in {{ identity_people() }}
    {%- endif %}

),

person_phones as (

    -- the phones of the CRM's leads and of new records (a history record follows its lead)
    select phone_e164
    from touches
    where
        phone_e164 is not null
        and touch_origin in ('crm_lead', 'intake')
    union
    select phone_e164
    from crm_customers
    where phone_e164 is not null

),

crm_ids as (

    select
        phone_e164,
        min(surviving_customer_id) as customer_id,
        array_agg(customer_id order by customer_id) as crm_customer_ids
    from crm_customers
    where phone_e164 is not null
    group by phone_e164

),

identified as (

    select
        person_phones.phone_e164,
        coalesce(
            crm_ids.customer_id, {{ stable_customer_id('person_phones.phone_e164') }}
        ) as customer_id,
        crm_ids.customer_id is not null as is_in_crm,
        coalesce(crm_ids.crm_customer_ids, cast(array[] as bigint[])) as crm_customer_ids
    from person_phones
    left join crm_ids
        on person_phones.phone_e164 = crm_ids.phone_e164

)

select * from identified

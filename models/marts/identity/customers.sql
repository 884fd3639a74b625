{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook=["{{ identity_replace_scope(identity_rebuilt_rows('customers', this)) }}"],
        post_hook=[
            "{{ ensure_key('primary key', 'customer_id') }}",
            "{{ ensure_key('unique', 'phone_e164') }}",
            "{{ identity_refresh_statistics() }}",
            "{{ ensure_index('is_in_crm') }}",
        ],
    )
}}

-- depends_on: {{ ref('int_identity_batch') }}
-- depends_on: {{ ref('int_identity_changes') }}
-- depends_on: {{ ref('int_identity_people') }}

-- One customer per person (usable E.164 phone). Name, email and city follow the survivorship
-- rules of docs/identity.md: what the person typed in a form (latest first), else the CRM's
-- customer record (the survivor first), else the name on the CRM's latest lead.
-- Incremental: a run builds again the customers of int_identity_people only. Indexed by
-- is_in_crm: publish reads the customers the CRM does not have yet.
{%- set restricted = identity_is_restricted() %}
{%- set people = identity_people() %}
with

customers_identified as (

    select * from {{ ref('int_customers_identified') }}
    {%- if restricted %}
        where phone_e164 in {{ people }}
    {%- endif %}

),

crm_customers as (

    select * from {{ ref('int_crm_customers_normalized') }}
    {%- if restricted %}
        where phone_e164 in {{ people }}
    {%- endif %}

),

leads as not materialized (

    select * from {{ ref('leads') }}
    {%- if restricted %}
        where phone_e164 in {{ people }}
    {%- endif %}

),

-- restricted: computed once, so the touches' `in (select ...)` below cannot re-run the scope
-- subquery per row (a nested loop on a low estimate: 23 s at 1M); else inlined
assignments as {{ 'materialized' if restricted else 'not materialized' }} (

    select * from {{ ref('int_touches_assigned') }}
    {%- if restricted %}
        where lead_id in (select leads.lead_id from leads)
    {%- endif %}

),

touches as (

    select * from {{ ref('int_touches_unioned') }}
    {%- if restricted %}
        where touch_id in (select assignments.touch_id from assignments)
    {%- endif %}

),

customer_touches as (

    select
        leads.customer_id,
        touches.touch_id,
        touches.source,
        touches.touched_at,
        touches.form_full_name,
        touches.form_email,
        touches.form_city,
        touches.crm_full_name
    from touches
    inner join assignments
        on touches.touch_id = assignments.touch_id
    inner join leads
        on assignments.lead_id = leads.lead_id
    where leads.customer_id is not null

),

touch_facts as (

    select
        customer_id,
        min(touched_at) as first_touched_at,
        max(touched_at) as last_touched_at,
        count(*) as touch_count
    from customer_touches
    group by customer_id

),

customer_sources as (

    select
        customer_id,
        array_agg(source order by source) as sources
    from (
        select distinct
            customer_id,
            source
        from customer_touches
    ) as distinct_sources
    group by customer_id

),

-- noqa: disable=LT02
{% for attribute in ['form_full_name', 'form_email', 'form_city', 'crm_full_name'] %}

latest_{{ attribute }} as (

    select distinct on (customer_id)
        customer_id,
        {{ attribute }}
    from customer_touches
    where {{ attribute }} is not null
    order by customer_id asc, touched_at desc, touch_id desc

),
{%- endfor %}
-- noqa: enable=LT02

lead_counts as (

    select
        customer_id,
        count(*) as lead_count
    from leads
    where customer_id is not null
    group by customer_id

),

crm_facts as (

    {%- set survivor_first = 'customer_id <> surviving_customer_id, updated_at desc nulls last,'
        ~ ' customer_id' %}
    select
        phone_e164,
        {{ first_present('full_name', survivor_first) }} as full_name,
        {{ first_present('email', survivor_first) }} as email,
        {{ first_present('city', survivor_first) }} as city,
        min(created_at) as first_created_at
    from crm_customers
    where phone_e164 is not null
    group by phone_e164

),

customers as (

    select
        customers_identified.customer_id,
        customers_identified.phone_e164,
        coalesce(
            latest_form_full_name.form_full_name,
            crm_facts.full_name,
            latest_crm_full_name.crm_full_name
        ) as full_name,
        coalesce(latest_form_email.form_email, crm_facts.email) as email,
        coalesce(latest_form_city.form_city, crm_facts.city) as city,
        least(touch_facts.first_touched_at, crm_facts.first_created_at) as first_seen_at,
        coalesce(touch_facts.last_touched_at, crm_facts.first_created_at) as last_seen_at,
        coalesce(lead_counts.lead_count, 0) as lead_count,
        coalesce(touch_facts.touch_count, 0) as touch_count,
        coalesce(customer_sources.sources, cast(array[] as text[])) as sources,
        customers_identified.is_in_crm,
        array_remove(
            customers_identified.crm_customer_ids, customers_identified.customer_id
        ) as merged_customer_ids
    from customers_identified
    left join touch_facts
        on customers_identified.customer_id = touch_facts.customer_id
    left join customer_sources
        on customers_identified.customer_id = customer_sources.customer_id
    left join lead_counts
        on customers_identified.customer_id = lead_counts.customer_id
    left join latest_form_full_name
        on customers_identified.customer_id = latest_form_full_name.customer_id
    left join latest_form_email
        on customers_identified.customer_id = latest_form_email.customer_id
    left join latest_form_city
        on customers_identified.customer_id = latest_form_city.customer_id
    left join latest_crm_full_name
        on customers_identified.customer_id = latest_crm_full_name.customer_id
    left join crm_facts
        on customers_identified.phone_e164 = crm_facts.phone_e164

)

select * from customers

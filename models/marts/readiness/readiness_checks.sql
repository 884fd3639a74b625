{{ config(materialized='view') }}

-- Can the CRM switch on `leads_master.customer_id` NOT NULL and the FOREIGN KEY to customers?
-- One row per check with the rows that still fail it. A view over the CRM's live tables and the
-- marts of the last build, so `leadlink readiness` right after `leadlink publish` tells the truth.
-- Each check is one branch of the union: a filter on check_name runs only that branch.
with

crm_leads as (

    select * from {{ ref('stg_crm__leads_master') }}

),

crm_customers as (

    select * from {{ ref('stg_crm__customers') }}

),

phone_numbers as (

    select * from {{ ref('int_phone_numbers') }}

),

leads as (

    select * from {{ ref('leads') }}

),

customer_merges as (

    select * from {{ ref('customer_merges') }}

),

customer_id_changes as (

    select * from {{ ref('leads_master_customer_id_changes') }}

),

checks as (

    select
        1 as check_order,
        'customer_id_not_null' as check_name,
        'leads_master rows without a customer_id (NOT NULL needs none)' as description,
        count(*) as failing_rows
    from crm_leads
    where crm_leads.customer_id is null

    union all

    select
        2 as check_order,
        'customer_id_foreign_key' as check_name,
        'leads_master rows whose customer_id is not a customers.id (FOREIGN KEY needs none)'
            as description,
        count(*) as failing_rows
    from crm_leads
    where
        crm_leads.customer_id is not null
        and not exists (
            select from crm_customers
            where crm_customers.customer_id = crm_leads.customer_id
        )

    union all

    select
        3 as check_order,
        'linkable_leads_linked' as check_name,
        'leads_master rows with a usable phone but no customer_id' as description,
        count(*) as failing_rows
    from crm_leads
    inner join leads
        on crm_leads.lead_id = leads.legacy_lead_id
    where
        leads.customer_id is not null
        and crm_leads.customer_id is null

    union all

    select
        4 as check_order,
        'customer_ids_current' as check_name,
        'leads_master rows whose customer_id would be set or changed (one customer per phone)'
            as description,
        count(*) as failing_rows
    from customer_id_changes

    union all

    select
        5 as check_order,
        'no_leads_on_merged_customers' as check_name,
        'leads_master rows pointing at a duplicate customer that merges into another'
            as description,
        count(*) as failing_rows
    from crm_leads
    inner join customer_merges
        on crm_leads.customer_id = customer_merges.merged_customer_id

    union all

    select
        6 as check_order,
        'no_leads_on_test_numbers' as check_name,
        'leads_master rows linked to a customer although their phone or the customer''s phone'
        || ' is a test number' as description,
        count(*) as failing_rows
    from crm_leads
    left join phone_numbers as lead_phone
        on coalesce(crm_leads.phone_number_raw, '') = lead_phone.phone_raw
    left join crm_customers
        on crm_leads.customer_id = crm_customers.customer_id
    left join phone_numbers as customer_phone
        on coalesce(crm_customers.phone_number_raw, '') = customer_phone.phone_raw
    where
        crm_leads.customer_id is not null
        and (
            coalesce(lead_phone.is_test_number, false)
            or coalesce(customer_phone.is_test_number, false)
        )

    union all

    select
        7 as check_order,
        'unlinkable_leads_resolved' as check_name,
        'leads_master rows no usable phone ties to a person: fix the phone or archive them'
        || ' (unlinkable_leads) before NOT NULL' as description,
        count(*) as failing_rows
    from crm_leads
    inner join leads
        on crm_leads.lead_id = leads.legacy_lead_id
    where leads.customer_id is null

),

readiness as (

    select
        check_order,
        check_name,
        description,
        failing_rows,
        failing_rows = 0 as is_ready
    from checks

)

select * from readiness

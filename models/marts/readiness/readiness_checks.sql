-- Can the CRM switch on `leads_master.customer_id` NOT NULL and the FOREIGN KEY to customers?
-- One row per check with the CRM rows that still fail it, as of this build (checked_at): the
-- CRM's rows as they are now against the marts built with them. `leadlink readiness --refresh`
-- rebuilds just this model to re-check the live CRM tables (after `leadlink publish`, say).
with

-- read twice (the facts below and the constraint violations): views, not worth materialising
crm_leads as not materialized (

    select * from {{ ref('stg_crm__leads_master') }}

),

crm_customers as not materialized (

    select * from {{ ref('stg_crm__customers') }}

),

phone_numbers as not materialized (

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

crm_customer_ids as (

    select customer_id as id from crm_customers

),

-- leads on a customer that does not exist, leads without one: defined once (the macro), and
-- publish counts the same on the live tables and on the state its plan predicts
customer_id_violations as (

    {{ lead_customer_violations('crm_leads', 'crm_customer_ids') }}

),

-- one pass over leads_master: every other fact the checks count
lead_facts as (

    select
        crm_leads.customer_id,
        leads.lead_id is not null as is_built,
        leads.customer_id as expected_customer_id,
        customer_merges.merged_customer_id is not null as is_on_merged_customer,
        coalesce(lead_phone.is_test_number, false)
        or coalesce(customer_phone.is_test_number, false) as is_on_test_number
    from crm_leads
    left join leads
        on crm_leads.lead_id = leads.legacy_lead_id
    left join crm_customers
        on crm_leads.customer_id = crm_customers.customer_id
    left join customer_merges
        on crm_leads.customer_id = customer_merges.merged_customer_id
    left join phone_numbers as lead_phone
        on coalesce(crm_leads.phone_number_raw, '') = lead_phone.phone_raw
    left join phone_numbers as customer_phone
        on coalesce(crm_customers.phone_number_raw, '') = customer_phone.phone_raw

),

counts as (

    select
        (
            select customer_id_violations.without_customer from customer_id_violations
        ) as without_customer_id,
        (
            select customer_id_violations.missing_customer from customer_id_violations
        ) as with_unknown_customer_id,
        count(*) filter (where expected_customer_id is not null and customer_id is null)
            as linkable_without_customer_id,
        (select count(*) from customer_id_changes) as with_customer_id_to_change,
        count(*) filter (where is_on_merged_customer) as on_merged_customer,
        count(*) filter (where customer_id is not null and is_on_test_number)
            as on_test_number,
        count(*) filter (
            where is_built and expected_customer_id is null and customer_id is null
        ) as unlinkable_without_customer
    from lead_facts

),

checks as (

    select
        checks.check_order,
        checks.check_name,
        checks.description,
        checks.failing_rows,
        checks.failing_rows = 0 as is_ready,
        now() as checked_at
    from counts
    cross join lateral (
        values
        (
            1, 'customer_id_not_null',
            'leads_master rows without a customer_id (NOT NULL needs none)',
            counts.without_customer_id
        ),
        (
            2, 'customer_id_foreign_key',
            'leads_master rows whose customer_id is not a customers.id (FOREIGN KEY needs none)',
            counts.with_unknown_customer_id
        ),
        (
            3, 'linkable_leads_linked',
            'leads_master rows with a usable phone but no customer_id',
            counts.linkable_without_customer_id
        ),
        (
            4, 'customer_ids_current',
            'leads_master rows whose customer_id would be set or changed (one customer per phone)',
            counts.with_customer_id_to_change
        ),
        (
            5, 'no_leads_on_merged_customers',
            'leads_master rows pointing at a duplicate customer that merges into another',
            counts.on_merged_customer
        ),
        (
            6, 'no_leads_on_test_numbers',
            'leads_master rows linked to a customer although their phone or the customer''s'
            || ' phone is a test number',
            counts.on_test_number
        ),
        (
            7, 'unlinkable_leads_without_customer',
            'leads_master rows without a customer_id that no usable phone ties to a person: fix'
            || ' the phone or archive them (publish --archive-unlinkable) before NOT NULL',
            counts.unlinkable_without_customer
        )
    ) as checks (check_order, check_name, description, failing_rows)

)

select * from checks

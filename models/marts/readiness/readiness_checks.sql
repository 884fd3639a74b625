-- Can the CRM switch on `leads_master.customer_id` NOT NULL and the FOREIGN KEY to customers?
-- One row per check with the CRM rows that still fail it, as of this build (checked_at): the
-- CRM's rows as they are now against the marts built with them. `leadlink readiness --refresh`
-- rebuilds this model and the readiness facts it counts whole, to re-check the live CRM tables
-- (after `leadlink publish`, say). Every count is of facts kept up to date by the incremental
-- marts (the failing leads, the customer_id changes, the merged customers, the unlinkable
-- leads), not of a join of every CRM lead with its mart lead: the cost of a live build follows
-- what changed.
{#- `readiness --refresh` rebuilds the readiness models with --full-refresh (not the identity
    marts) -#}
{%- set live_counts = flags.FULL_REFRESH %}
with

failing_leads as (

    select * from {{ ref('readiness_failing_leads') }}

),

customer_merges as (

    select * from {{ ref('customer_merges') }}

),

customer_id_changes as (

    select * from {{ ref('leads_master_customer_id_changes') }}

),

unlinkable_leads as (

    select * from {{ ref('unlinkable_leads') }}

),

crm_leads as not materialized (

    select * from {{ ref('stg_crm__leads_master') }}

),

failing_lead_counts as (

    select
        count(*) filter (where is_without_customer_id) as without_customer_id,
        count(*) filter (where is_on_unknown_customer) as with_unknown_customer_id,
        count(*) filter (where is_on_test_number) as on_test_number
    from failing_leads

),

leads_on_merged_customers as (

    {%- if live_counts %}
        -- the CRM's live customer_id now (publish changes it): customer_merges may be as old as
        -- the last build; the leads_master index on customer_id finds the leads of each
        select count(*) as lead_count
        from customer_merges
        inner join crm_leads
            on customer_merges.merged_customer_id = crm_leads.customer_id
    {%- else %}
        -- the leads customer_merges holds for each duplicate, which this build compared with
        -- the CRM's live customer_id for every lead written since the last one
        select coalesce(sum(leads_master_count), 0) as lead_count
        from customer_merges
    {%- endif %}

),

-- built leads that no usable phone ties to a person, on CRM rows that still have no customer_id
unlinkable_without_customer as (

    select count(*) as lead_count
    from unlinkable_leads
    inner join crm_leads
        on unlinkable_leads.legacy_lead_id = crm_leads.lead_id
    where crm_leads.customer_id is null

),

counts as (

    select
        failing_lead_counts.without_customer_id,
        failing_lead_counts.with_unknown_customer_id,
        (
            select count(*) from customer_id_changes
            where customer_id_changes.change_kind = 'set'
        ) as linkable_without_customer_id,
        (select count(*) from customer_id_changes) as with_customer_id_to_change,
        leads_on_merged_customers.lead_count as on_merged_customer,
        failing_lead_counts.on_test_number,
        unlinkable_without_customer.lead_count as unlinkable_without_customer
    from failing_lead_counts
    cross join leads_on_merged_customers
    cross join unlinkable_without_customer

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

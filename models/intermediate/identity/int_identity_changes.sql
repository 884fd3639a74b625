{{
    config(
        indexes=[{'columns': ['change_kind', 'change_key']}],
        post_hook=["analyze {{ this }}"],
    )
}}

-- depends_on: {{ ref('int_identity_batch') }}
-- depends_on: {{ ref('int_crm_written_rows') }}
-- What changed since the last complete run, as keys (change_kind, change_key), with what the
-- changed rows were before (read from the models as the last run left them):
--   touch         every touch_id to key again: new or changed calls and Meta leads, CRM leads
--                 created, edited or deleted (their old and new keys, their history rows), history
--                 rows added or removed, and every CRM lead claiming one of those external ids;
--   crm_lead      the leads_master ids int_touches_unioned reads again;
--   crm_customer  the customers created, edited or deleted, and all others with their phones;
--   person        the phones (E.164) those touches and customers had before;
--   lead          the leads those touches were in before.
-- Empty when the run rebuilds everything.
{%- set everything = identity_rebuilds_everything() %}
{%- set prior_touches = prior_relation('int_touches_unioned') %}
{%- set prior_assigned = prior_relation('int_touches_assigned') %}
{%- set prior_lead_touches = prior_relation('lead_touches') %}
{%- set prior_customers = prior_relation('int_crm_customers_normalized') %}
{%- set prior_customer_mart = prior_relation('customers') %}
{#- which run wrote each prior row: not there in tables built before run numbers existed -#}
{%- set seen = namespace(touches=false, customers=false) %}
{%- if execute and not everything %}
    {%- for column in adapter.get_columns_in_relation(prior_touches) %}
        {%- if column.name == 'record_landed_at' %}{% set seen.touches = true %}{% endif %}
    {%- endfor %}
    {%- for column in adapter.get_columns_in_relation(prior_customers) %}
        {%- if column.name == 'read_in_run' %}{% set seen.customers = true %}{% endif %}
    {%- endfor %}
{%- endif %}
{%- if everything %}

    select
        cast(null as text) as change_kind,
        cast(null as text) as change_key
    where false

{%- else %}
with

batch as (

    select * from {{ ref('int_identity_batch') }}

),

knowlarity_calls as (

    select * from {{ ref('stg_knowlarity__calls') }}

),

meta_leads as (

    select * from {{ ref('stg_meta_lead_ads__leads') }}

),

crm_leads as not materialized (

    select * from {{ ref('stg_crm__leads_master') }}

),

crm_sources as not materialized (

    select * from {{ ref('stg_crm__sources') }}

),

crm_history as not materialized (

    select * from {{ ref('stg_crm__lead_sources_history') }}

),

crm_customers as not materialized (

    select * from {{ ref('stg_crm__customers') }}

),

phone_numbers as not materialized (

    select * from {{ ref('int_phone_numbers') }}

),

prior_touches as not materialized (

    select * from {{ prior_touches }}

),

prior_assigned as not materialized (

    select * from {{ prior_assigned }}

),

prior_lead_touches as not materialized (

    select * from {{ prior_lead_touches }}

),

prior_customers as not materialized (

    select * from {{ prior_customers }}

),

prior_customer_mart as not materialized (

    {%- if prior_customer_mart is none %}
        select cast(null as bigint) as customer_id, cast(null as text) as phone_e164 where false
    {%- else %}
        select customer_id, phone_e164 from {{ prior_customer_mart }}
    {%- endif %}

),

history_keys as not materialized (

    select
        crm_history.lead_id,
        crm_history.received_at,
        {{ touch_key("coalesce(crm_sources.channel, 'crm')", 'crm_history.external_id') }}
            as touch_id
    from crm_history
    left join crm_sources
        on crm_history.source_id = crm_sources.source_id
    where
        not coalesce(crm_history.is_primary, false)
        and crm_history.external_id is not null

),

landed_records as (

    select
        {{ touch_key("'knowlarity'", 'call_uuid') }} as touch_id,
        last_landed_at
    from knowlarity_calls
    where last_landed_at >= (select calls_landed_since from batch)
    union all
    select
        {{ touch_key("'meta'", 'lead_id') }} as touch_id,
        last_landed_at
    from meta_leads
    where last_landed_at >= (select meta_landed_since from batch)

),

-- records landed inside the look-back; one a completed run keyed as it still is (landed at the
-- same time) is not a change
changed_records as (

    select landed_records.touch_id
    from landed_records
    {%- if seen.touches %}
        -- a lookup per row by the prior table's unique key, not an anti-join: the planner cannot
        -- know how few rows the look-back holds and would hash the whole prior table instead
        where not coalesce((
            select true from prior_touches
            where
                prior_touches.touch_id = landed_records.touch_id
                and prior_touches.keyed_in_run <= (select batch.seen_through_run from batch)
                and prior_touches.record_landed_at = landed_records.last_landed_at
            limit 1
        ), false)
    {%- endif %}

),

-- the CRM leads written since (int_crm_written_rows; read once: their keys come from these rows)
changed_crm_lead_rows as (

    select
        crm_leads.lead_id,
        crm_leads.source_id,
        crm_leads.external_lead_id
    from crm_leads
    where
        crm_leads.lead_id in {{ crm_written('leads_master') }}
        -- a write may leave every value the touches read as it was (publish or the app setting
        -- customer_id, which the touches do not read; an edit of a column leadlink does not
        -- read): a version a completed run already keyed is not a change. The marts that show
        -- the CRM's live customer_id compare the rows written since themselves.
        {%- if seen.touches %}
        and not coalesce((  -- a lookup per row, as in changed_records
            select true from prior_touches
            where
                prior_touches.touch_origin = 'crm_lead'
                and prior_touches.legacy_lead_id = crm_leads.lead_id
                and prior_touches.keyed_in_run <= (select batch.seen_through_run from batch)
                and prior_touches.touched_at
                is not distinct from coalesce(crm_leads.created_at, crm_leads.updated_at)
                and prior_touches.active_at
                is not distinct from greatest(crm_leads.created_at, crm_leads.updated_at)
                and (
                    prior_touches.status,
                    prior_touches.branch_id,
                    prior_touches.external_id,
                    prior_touches.crm_full_name
                ) is not distinct from (
                    crm_leads.status,
                    crm_leads.branch_id,
                    crm_leads.external_lead_id,
                    crm_leads.full_name
                )
                and (
                    prior_touches.phone_raw is not distinct from crm_leads.phone_number_raw
                    or prior_touches.phone_raw is not distinct from crm_leads.alternate_phone_raw
                )
            limit 1
        ), false)
        {%- endif %}

),

changed_crm_leads as (

    select changed_crm_lead_rows.lead_id from changed_crm_lead_rows
    union
    select prior_touches.legacy_lead_id
    from prior_touches
    where
        (select crm_leads_may_be_deleted from batch)
        and prior_touches.touch_origin = 'crm_lead'
        and not exists (
            select from crm_leads
            where crm_leads.lead_id = prior_touches.legacy_lead_id
        )

),

-- the keys the changed CRM leads (and the history rows filed under them) have now and had
changed_crm_lead_keys as (

    select
        {{ touch_key(
            "coalesce(crm_sources.channel, 'crm')", 'changed_crm_lead_rows.external_lead_id'
        ) }} as touch_id
    from changed_crm_lead_rows
    left join crm_sources
        on changed_crm_lead_rows.source_id = crm_sources.source_id
    where changed_crm_lead_rows.external_lead_id is not null
    union
    select {{ touch_key("'crm-lead'", 'cast(changed_crm_leads.lead_id as text)') }}
    from changed_crm_leads
    union
    select prior_touches.touch_id
    from prior_touches
    where prior_touches.legacy_lead_id in (select changed_crm_leads.lead_id from changed_crm_leads)
    union
    select history_keys.touch_id
    from history_keys
    where history_keys.lead_id in (select changed_crm_leads.lead_id from changed_crm_leads)

),

changed_history as (

    select history_keys.touch_id
    from history_keys
    where
        history_keys.received_at >= (select batch.crm_history_received_since from batch)
        {%- if seen.touches %}
        -- as for leads: a row a completed run already keyed as it is now is not a change
        and not exists (
            select from prior_touches
            where
                prior_touches.touch_id = history_keys.touch_id
                and prior_touches.keyed_in_run <= (select batch.seen_through_run from batch)
                and (
                    prior_touches.touch_origin = 'crm_lead'
                    or (
                        prior_touches.touch_origin = 'crm_history'
                        and prior_touches.legacy_lead_id = history_keys.lead_id
                        and prior_touches.active_at <= history_keys.received_at
                    )
                )
        )
        {%- endif %}
    union
    -- rows added (publish files case C at the record's own time) or removed
    select history_keys.touch_id
    from history_keys
    where
        (select crm_history_changed from batch)
        and not exists (
            -- already this history touch, or the CRM's own lead (which keeps the key)
            select from prior_touches
            where
                prior_touches.touch_id = history_keys.touch_id
                and (
                    prior_touches.touch_origin = 'crm_lead'
                    or (
                        prior_touches.touch_origin = 'crm_history'
                        and prior_touches.legacy_lead_id = history_keys.lead_id
                    )
                )
        )
    union
    select prior_touches.touch_id
    from prior_touches
    where
        (select crm_history_changed from batch)
        and prior_touches.touch_origin = 'crm_history'
        and not exists (
            select from history_keys
            where
                history_keys.touch_id = prior_touches.touch_id
                and history_keys.lead_id = prior_touches.legacy_lead_id
        )

),

direct_keys as (

    select touch_id from changed_records
    union
    select touch_id from changed_crm_lead_keys
    union
    select touch_id from changed_history

),

-- which CRM row holds an external id can change: every row claiming one is keyed again. A CRM
-- lead written since claims what it holds now; every other one what its touch recorded (found
-- by the touches' index on external_id: the CRM has none, and a scan of leads_master would cost
-- what the CRM's size costs)
claimed_ids as (

    select substr(direct_keys.touch_id, strpos(direct_keys.touch_id, ':') + 1) as external_id
    from direct_keys

),

claiming_leads as (

    select changed_crm_lead_rows.lead_id
    from changed_crm_lead_rows
    left join crm_sources
        on changed_crm_lead_rows.source_id = crm_sources.source_id
    where
        changed_crm_lead_rows.external_lead_id in (select claimed_ids.external_id from claimed_ids)
        and {{ touch_key(
            "coalesce(crm_sources.channel, 'crm')", 'changed_crm_lead_rows.external_lead_id'
        ) }}
        in (select direct_keys.touch_id from direct_keys)
    union
    select prior_touches.legacy_lead_id
    from prior_touches
    where
        prior_touches.touch_origin = 'crm_lead'
        and prior_touches.external_id in (select claimed_ids.external_id from claimed_ids)
        and {{ touch_key('prior_touches.source', 'prior_touches.external_id') }}
        in (select direct_keys.touch_id from direct_keys)

),

touch_keys as (

    select touch_id from direct_keys
    union
    select {{ touch_key("'crm-lead'", 'cast(claiming_leads.lead_id as text)') }}
    from claiming_leads
    union
    select prior_touches.touch_id
    from prior_touches
    where
        prior_touches.touch_origin = 'crm_lead'
        and prior_touches.legacy_lead_id in (select claiming_leads.lead_id from claiming_leads)

),

crm_lead_scope as (

    select lead_id from changed_crm_leads
    union
    select lead_id from claiming_leads

),

-- the customers written since (int_crm_written_rows; read once: their phones come from these
-- rows)
changed_customer_rows as (

    select
        crm_customers.customer_id,
        crm_customers.phone_number_raw
    from crm_customers
    where
        crm_customers.customer_id in {{ crm_written('customers') }}
        -- as for leads: a version a completed run already read is not a change
        {%- if seen.customers %}
        and not coalesce((  -- a lookup per row, as in changed_records
            select true from prior_customers
            where
                prior_customers.customer_id = crm_customers.customer_id
                and prior_customers.read_in_run <= (select batch.seen_through_run from batch)
                and (
                    prior_customers.created_at,
                    prior_customers.updated_at,
                    prior_customers.phone_number_raw,
                    prior_customers.full_name,
                    prior_customers.email,
                    prior_customers.city
                ) is not distinct from (
                    crm_customers.created_at,
                    crm_customers.updated_at,
                    crm_customers.phone_number_raw,
                    crm_customers.full_name,
                    crm_customers.email,
                    crm_customers.city
                )
            limit 1
        ), false)
        {%- endif %}

),

changed_customers as (

    select changed_customer_rows.customer_id from changed_customer_rows
    union
    select prior_customers.customer_id
    from prior_customers
    where
        (select crm_customers_may_be_deleted from batch)
        and not exists (
            select from crm_customers
            where crm_customers.customer_id = prior_customers.customer_id
        )

),

-- the E.164 the changed customers had and have: every customer of those people is read again
customer_phones as (

    select prior_customers.phone_e164
    from prior_customers
    where
        prior_customers.phone_e164 is not null
        and prior_customers.customer_id in (select changed_customers.customer_id from changed_customers)
    union
    select {{ person_e164('phone_numbers') }}
    from changed_customer_rows
    inner join phone_numbers
        on coalesce(changed_customer_rows.phone_number_raw, '') = phone_numbers.phone_raw
    where phone_numbers.is_usable

),

customer_scope as (

    select customer_id from changed_customers
    union
    select prior_customers.customer_id
    from prior_customers
    where prior_customers.phone_e164 in (select customer_phones.phone_e164 from customer_phones)

),

-- before: the people of the changed touches (the first and the last model that records them,
-- so a run that failed half way leaves no person behind)
prior_people as (

    select phone_e164 from customer_phones
    union
    select prior_customer_mart.phone_e164
    from prior_customer_mart
    where prior_customer_mart.customer_id in (
        select changed_customers.customer_id from changed_customers
    )
    union
    select prior_touches.phone_e164
    from prior_touches
    where
        prior_touches.phone_e164 is not null
        and prior_touches.touch_origin in ('crm_lead', 'intake')
        and prior_touches.touch_id in (select touch_keys.touch_id from touch_keys)
    union
    select prior_assigned.person_e164
    from prior_assigned
    where
        prior_assigned.person_e164 is not null
        and prior_assigned.touch_id in (select touch_keys.touch_id from touch_keys)
    union
    select prior_lead_touches.phone_e164
    from prior_lead_touches
    where
        prior_lead_touches.phone_e164 is not null
        and prior_lead_touches.touch_origin in ('crm_lead', 'intake')
        and prior_lead_touches.touch_id in (select touch_keys.touch_id from touch_keys)

),

prior_leads as (

    select prior_assigned.lead_id
    from prior_assigned
    where prior_assigned.touch_id in (select touch_keys.touch_id from touch_keys)
    union
    select prior_lead_touches.lead_id
    from prior_lead_touches
    where prior_lead_touches.touch_id in (select touch_keys.touch_id from touch_keys)

),

changes as (

    select 'touch' as change_kind, touch_id as change_key from touch_keys
    union all
    select 'crm_lead', cast(lead_id as text) from crm_lead_scope
    union all
    select 'crm_customer', cast(customer_id as text) from customer_scope
    union all
    select 'person', phone_e164 from prior_people
    union all
    select 'lead', lead_id from prior_leads

)

select * from changes
{%- endif %}

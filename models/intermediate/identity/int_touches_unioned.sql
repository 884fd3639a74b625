{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='sync_all_columns',
        indexes=[
            {'columns': ['touch_id'], 'unique': True},
            {'columns': ['phone_e164']},
            {'columns': ['legacy_lead_id']},
        ],
        pre_hook=["{{ identity_replace_scope(identity_rebuilt_rows('int_touches_unioned', this)) }}"],
        post_hook=[
            "{{ identity_refresh_statistics() }}",
            "{{ ensure_index('external_id') }}",
        ],
    )
}}

-- depends_on: {{ ref('int_identity_batch') }}
-- depends_on: {{ ref('int_identity_changes') }}
-- Every inbound contact once: each leads_master row, each later sighting the CRM recorded in
-- lead_sources_history, each Knowlarity call and each Meta lead. A record the CRM already holds
-- (same channel and external id) is the CRM's touch, not a second one. Each touch carries the
-- phone that identifies its person (null when none is usable) and the branch it belongs to.
-- Incremental: a run keys again only the touches of int_identity_changes (kind touch), reading
-- the CRM leads that can hold those keys (kind crm_lead) and the records with those keys.
{%- set restricted = identity_is_restricted() %}
{%- set changed_touches = identity_changed('touch') %}
with

batch as (

    select run_number from {{ ref('int_identity_batch') }}

),

crm_leads as not materialized (

    select * from {{ ref('stg_crm__leads_master') }}

),

crm_leads_in_scope as not materialized (

    select * from crm_leads
    {%- if restricted %}
        where lead_id in {{ identity_changed('crm_lead', 'bigint') }}
    {%- endif %}

),

crm_sources as not materialized (

    select * from {{ ref('stg_crm__sources') }}

),

crm_history as (

    select * from {{ ref('stg_crm__lead_sources_history') }}

),

knowlarity_calls as (

    select * from {{ ref('stg_knowlarity__calls') }}
    {%- if restricted %}
        where {{ touch_key("'knowlarity'", 'call_uuid') }} in {{ changed_touches }}
    {%- endif %}

),

meta_leads as (

    select * from {{ ref('stg_meta_lead_ads__leads') }}
    {%- if restricted %}
        where {{ touch_key("'meta'", 'lead_id') }} in {{ changed_touches }}
    {%- endif %}

),

phone_numbers as not materialized (

    select * from {{ ref('int_phone_numbers') }}

),

knowlarity_number_branches as (

    select * from {{ ref('knowlarity_number_branches') }}

),

meta_form_branches as (

    select * from {{ ref('meta_form_branches') }}

),

-- the seed may be typed in any format: read it with the one normaliser
dialled_number_branches as (

    select distinct on (dialled_e164)
        {{ normalize_phone('knowlarity_number') }} as dialled_e164,
        branch_id
    from knowlarity_number_branches
    order by dialled_e164 asc, branch_id asc

),

intake_calls as (

    select
        {{ touch_key("'knowlarity'", 'knowlarity_calls.call_uuid') }} as touch_id,
        'knowlarity' as source,
        knowlarity_calls.call_uuid as external_id,
        coalesce(knowlarity_calls.call_started_at, knowlarity_calls.first_landed_at) as touched_at,
        knowlarity_calls.customer_phone_raw as phone_raw,
        coalesce(
            dialled_number_branches.branch_id, {{ var('default_branch_id') }}
        ) as branch_id,
        -- the CRM's case A: New from webhooks, Pending from the call-log sync
        case
            when
                knowlarity_calls.first_landed_from = 'webhook'
                or knowlarity_calls.first_payload_shape <> 'calllog'
                then 'New'
            else 'Pending'
        end as status,
        cast(null as text) as form_full_name,
        cast(null as text) as form_email,
        cast(null as text) as form_city,
        false as is_test_lead,
        knowlarity_calls.last_landed_at as record_landed_at
    from knowlarity_calls
    left join phone_numbers as dialled_numbers
        on coalesce(knowlarity_calls.knowlarity_number, '') = dialled_numbers.phone_raw
    left join dialled_number_branches
        on dialled_numbers.phone_e164 = dialled_number_branches.dialled_e164

),

intake_forms as (

    select
        {{ touch_key("'meta'", 'meta_leads.lead_id') }} as touch_id,
        'meta' as source,
        meta_leads.lead_id as external_id,
        coalesce(meta_leads.created_at, meta_leads.first_landed_at) as touched_at,
        meta_leads.phone_raw,
        coalesce(meta_form_branches.branch_id, {{ var('default_branch_id') }}) as branch_id,
        'New' as status,
        -- what the person typed; the testing tool's dummy answers are nobody's
        case when not meta_leads.is_test_lead then nullif(meta_leads.full_name, '') end
            as form_full_name,
        case when not meta_leads.is_test_lead then nullif(meta_leads.email, '') end
            as form_email,
        case when not meta_leads.is_test_lead then nullif(meta_leads.city, '') end as form_city,
        meta_leads.is_test_lead,
        meta_leads.last_landed_at as record_landed_at
    from meta_leads
    left join meta_form_branches
        on meta_leads.form_id = meta_form_branches.form_id

),

intake as (

    select * from intake_calls
    union all
    select * from intake_forms

),

-- each record's phone, looked up once here for the three kinds of touches that read it: joined
-- to the few records of a run first, it is found by the phone table's key (joined after a CRM
-- lead, the planner guessed thousands of rows and hashed the whole phone table)
intake_phones as (

    select
        intake.touch_id,
        intake_phone.phone_raw,
        intake_phone.phone_e164,
        intake_phone.unusable_reason,
        intake_phone.is_usable
    from intake
    left join phone_numbers as intake_phone
        on coalesce(intake.phone_raw, '') = intake_phone.phone_raw

),

crm_leads_with_channel as not materialized (

    select
        crm_leads.*,
        coalesce(crm_sources.channel, 'crm') as source
    from crm_leads_in_scope as crm_leads
    left join crm_sources
        on crm_leads.source_id = crm_sources.source_id

),

-- the CRM row that holds each external id (a second row claiming it keeps a key of its own)
external_id_holders as (

    select min(lead_id) as lead_id
    from crm_leads_with_channel
    where external_lead_id is not null
    group by source, external_lead_id

),

crm_lead_keys as (

    select
        crm_leads_with_channel.*,
        case
            when external_id_holders.lead_id is not null
                then {{ touch_key(
                    'crm_leads_with_channel.source', 'crm_leads_with_channel.external_lead_id'
                ) }}
            else {{ touch_key("'crm-lead'", 'cast(crm_leads_with_channel.lead_id as text)') }}
        end as touch_id
    from crm_leads_with_channel
    left join external_id_holders
        on crm_leads_with_channel.lead_id = external_id_holders.lead_id

),

crm_lead_touches as (

    select
        crm_lead_keys.touch_id,
        'crm_lead' as touch_origin,
        crm_lead_keys.source,
        crm_lead_keys.external_lead_id as external_id,
        crm_lead_keys.lead_id as legacy_lead_id,
        coalesce(crm_lead_keys.created_at, crm_lead_keys.updated_at) as touched_at,
        greatest(crm_lead_keys.created_at, crm_lead_keys.updated_at) as active_at,
        -- the stored phone, else the alternate phone, else the phone of the record it came from
        case
            when coalesce(stored_phone.is_usable, false) then stored_phone.phone_raw
            when coalesce(alternate_phone.is_usable, false) then alternate_phone.phone_raw
            when coalesce(intake_phone.is_usable, false) then intake_phone.phone_raw
            else crm_lead_keys.phone_number_raw
        end as phone_raw,
        coalesce(
            {{ person_e164('stored_phone') }},
            {{ person_e164('alternate_phone') }},
            {{ person_e164('intake_phone') }}
        ) as phone_e164,
        -- unlinkable: the stored phone's reason
        case
            when
                coalesce(
                    {{ person_e164('stored_phone') }},
                    {{ person_e164('alternate_phone') }},
                    {{ person_e164('intake_phone') }}
                ) is null
                then {{ person_unusable_reason('stored_phone') }}
        end as unusable_reason,
        crm_lead_keys.branch_id,
        crm_lead_keys.status,
        case
            when crm_lead_keys.is_closed
                then coalesce(crm_lead_keys.updated_at, crm_lead_keys.created_at)
        end as closed_at,
        intake.form_full_name,
        intake.form_email,
        intake.form_city,
        crm_lead_keys.full_name as crm_full_name,
        coalesce(intake.is_test_lead, false) as is_test_lead,
        intake.record_landed_at
    from crm_lead_keys
    left join intake
        on crm_lead_keys.touch_id = intake.touch_id
    left join phone_numbers as stored_phone
        on coalesce(crm_lead_keys.phone_number_raw, '') = stored_phone.phone_raw
    left join phone_numbers as alternate_phone
        on coalesce(crm_lead_keys.alternate_phone_raw, '') = alternate_phone.phone_raw
    left join intake_phones as intake_phone
        on crm_lead_keys.touch_id = intake_phone.touch_id

),

crm_history_touches as (

    select distinct on (history_keys.touch_id)
        history_keys.touch_id,
        'crm_history' as touch_origin,
        history_keys.source,
        history_keys.external_id,
        history_keys.lead_id as legacy_lead_id,
        coalesce(history_keys.received_at, intake.touched_at) as touched_at,
        coalesce(history_keys.received_at, intake.touched_at) as active_at,
        intake.phone_raw,
        -- the lead it joined decides the person; this phone only feeds the customer's attributes
        {{ person_e164('history_phone') }} as phone_e164,
        {{ person_unusable_reason('history_phone') }} as unusable_reason,
        crm_leads.branch_id,
        cast(null as text) as status,
        cast(null as timestamptz) as closed_at,
        intake.form_full_name,
        intake.form_email,
        intake.form_city,
        cast(null as text) as crm_full_name,
        coalesce(intake.is_test_lead, false) as is_test_lead,
        intake.record_landed_at
    from (
        select
            crm_history.*,
            coalesce(crm_sources.channel, 'crm') as source,
            {{ touch_key("coalesce(crm_sources.channel, 'crm')", 'crm_history.external_id') }}
                as touch_id
        from crm_history
        left join crm_sources
            on crm_history.source_id = crm_sources.source_id
        where
            not coalesce(crm_history.is_primary, false)
            and crm_history.external_id is not null
    ) as history_keys
    inner join crm_leads
        on history_keys.lead_id = crm_leads.lead_id
    left join intake
        on history_keys.touch_id = intake.touch_id
    left join intake_phones as history_phone
        on history_keys.touch_id = history_phone.touch_id
    -- a record the CRM holds as a lead is that lead's touch (the lead's own key)
    where
        not exists (
            select from crm_leads_with_channel as crm_lead
            where
                crm_lead.source = history_keys.source
                and crm_lead.external_lead_id = history_keys.external_id
        )  -- noqa: LT02
        {%- if restricted %}
            and history_keys.touch_id in {{ changed_touches }}  -- noqa: LT02
        {%- endif %}
    order by history_keys.touch_id asc, history_keys.received_at asc, history_keys.lead_id asc

),

intake_touches as (

    select
        intake.touch_id,
        'intake' as touch_origin,
        intake.source,
        intake.external_id,
        cast(null as bigint) as legacy_lead_id,
        intake.touched_at,
        intake.touched_at as active_at,
        intake.phone_raw,
        {{ person_e164('intake_phone') }} as phone_e164,
        {{ person_unusable_reason('intake_phone') }} as unusable_reason,
        intake.branch_id,
        intake.status,
        cast(null as timestamptz) as closed_at,
        intake.form_full_name,
        intake.form_email,
        intake.form_city,
        cast(null as text) as crm_full_name,
        intake.is_test_lead,
        intake.record_landed_at
    from intake
    left join intake_phones as intake_phone
        on intake.touch_id = intake_phone.touch_id
    where
        not exists (
            select from crm_leads_with_channel as crm_lead
            where
                crm_lead.source = intake.source
                and crm_lead.external_lead_id = intake.external_id
        )
        and not exists (
            select from crm_history_touches
            where crm_history_touches.touch_id = intake.touch_id
        )

),

touches as (

    select * from crm_lead_touches
    union all
    select * from crm_history_touches
    union all
    select * from intake_touches

),

-- which run keyed each touch: int_identity_changes tells a CRM row version a completed run has
-- read (re-read by the look-back, not a change) from one that a failed run left half done
numbered as (

    select
        touches.*,
        (select batch.run_number from batch) as keyed_in_run
    from touches
    {%- if restricted %}
        where touches.touch_id in {{ changed_touches }}
    {%- endif %}

)

select * from numbered

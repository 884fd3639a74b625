-- Every call, every Meta lead and every CRM lead row is an inbound contact in lead_touches: fails
-- on each record that is missing (a CRM row exactly once: legacy_lead_id is unique there). A live
-- build checks the records it read and those whose touches it wrote again
-- (data_tests_read_rebuilt_rows); `dbt test` and --full-refresh check every one.
{%- set restricted = leadlink.data_tests_read_rebuilt_rows() %}
{%- if restricted %}
    {%- set batch = identity_model('int_identity_batch') %}
    {%- set rebuilt_touches -%}
        (
            select rebuilt.source, rebuilt.external_id, rebuilt.legacy_lead_id
            from {{ identity_model('int_touches_unioned') }} as rebuilt
            where rebuilt.{{ identity_rebuilt_rows('lead_touches', none) }}
        )
    {%- endset %}
{%- endif %}
with

knowlarity_calls as (

    select call_uuid from {{ ref('stg_knowlarity__calls') }}
    {%- if restricted %}
        where call_uuid in (
            select recent.call_uuid
            from {{ ref('stg_knowlarity__calls') }} as recent
            where recent.last_landed_at >= (
                select coalesce(batch.calls_landed_since, '-infinity')
                from {{ batch }} as batch
            )
            union
            select rebuilt.external_id
            from {{ rebuilt_touches }} as rebuilt
            where rebuilt.source = 'knowlarity'
        )
    {%- endif %}

),

meta_leads as (

    select lead_id from {{ ref('stg_meta_lead_ads__leads') }}
    {%- if restricted %}
        where lead_id in (
            select recent.lead_id
            from {{ ref('stg_meta_lead_ads__leads') }} as recent
            where recent.last_landed_at >= (
                select coalesce(batch.meta_landed_since, '-infinity')
                from {{ batch }} as batch
            )
            union
            select rebuilt.external_id
            from {{ rebuilt_touches }} as rebuilt
            where rebuilt.source = 'meta'
        )
    {%- endif %}

),

crm_leads as (

    select lead_id from {{ ref('stg_crm__leads_master') }}
    {%- if restricted %}
        where lead_id in (
            {{ identity_changed('crm_lead', 'bigint') }}
            union
            select rebuilt.legacy_lead_id
            from {{ rebuilt_touches }} as rebuilt
        )
    {%- endif %}

),

-- read three times: inlined into each anti-join (a materialised copy of every touch costs more
-- than the joins)
lead_touches as not materialized (

    select
        source,
        external_id,
        legacy_lead_id
    from {{ ref('lead_touches') }}

),

missing as (

    select
        'knowlarity' as source,
        knowlarity_calls.call_uuid as record_id
    from knowlarity_calls
    where
        not exists (
            select from lead_touches
            where
                lead_touches.source = 'knowlarity'
                and lead_touches.external_id = knowlarity_calls.call_uuid
        )

    union all

    select
        'meta' as source,
        meta_leads.lead_id as record_id
    from meta_leads
    where
        not exists (
            select from lead_touches
            where
                lead_touches.source = 'meta'
                and lead_touches.external_id = meta_leads.lead_id
        )

    union all

    select
        'crm' as source,
        cast(crm_leads.lead_id as text) as record_id
    from crm_leads
    where not exists (
        select from lead_touches
        where lead_touches.legacy_lead_id = crm_leads.lead_id
    )

)

select * from missing

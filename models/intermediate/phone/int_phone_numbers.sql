{{
    config(
        materialized='incremental',
        unique_key='phone_raw',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['phone_raw'], 'unique': True}, {'columns': ['phone_e164']}],
        post_hook=[
            "{{ install_phone_functions() }}",
            "{{ ensure_index('parsed_in_run') }}",
        ],
    )
}}

-- depends_on: {{ ref('int_crm_written_rows') }}
-- Every distinct raw phone string of every source, normalised once: an incremental run reads
-- only the records that changed since the last complete run (the calls and Meta leads landed
-- since, int_identity_batch; the CRM rows written since, int_crm_written_rows) and parses only
-- strings it has not seen. Downstream models join on coalesce(raw, '') = phone_raw.
{%- set restricted = identity_is_restricted() %}
with

batch as (

    select * from {{ ref('int_identity_batch') }}

),

knowlarity_calls as (

    select
        customer_phone_raw,
        knowlarity_number
    from {{ ref('stg_knowlarity__calls') }}
    {%- if restricted %}
        where last_landed_at >= (select batch.calls_landed_since from batch)
    {%- endif %}

),

meta_leads as (

    select phone_raw from {{ ref('stg_meta_lead_ads__leads') }}
    {%- if restricted %}
        where last_landed_at >= (select batch.meta_landed_since from batch)
    {%- endif %}

),

legacy_leads as (

    select
        phone_number_raw,
        alternate_phone_raw
    from {{ ref('stg_crm__leads_master') }}
    {%- if restricted %}
        where lead_id in {{ crm_written('leads_master') }}
    {%- endif %}

),

legacy_customers as (

    select phone_number_raw from {{ ref('stg_crm__customers') }}
    {%- if restricted %}
        where customer_id in {{ crm_written('customers') }}
    {%- endif %}

),

raw_strings as (

    select coalesce(customer_phone_raw, '') as phone_raw from knowlarity_calls
    union
    -- the number dialled: normalised by the same rules to find its branch in the seed
    select coalesce(knowlarity_number, '') from knowlarity_calls
    union
    select coalesce(phone_raw, '') from meta_leads
    union
    select coalesce(phone_number_raw, '') from legacy_leads
    union
    select coalesce(alternate_phone_raw, '') from legacy_leads
    union
    select coalesce(phone_number_raw, '') from legacy_customers

),

unseen as (

    select raw_strings.phone_raw
    from raw_strings
    {%- if restricted %}
        -- a lookup per string by the unique key, not an anti-join: the planner cannot know how
        -- few strings the batch holds and would hash every string already parsed
        where not coalesce((
            select true from {{ this }} as seen
            where seen.phone_raw = raw_strings.phone_raw
            limit 1
        ), false)
    {%- elif is_incremental() %}
        left join {{ this }} as seen on raw_strings.phone_raw = seen.phone_raw
        where seen.phone_raw is null
    {%- endif %}

),

parsed as (

    {{ phone_parse_rows('unseen', 'phone_raw') }}

),

final as (

    select
        phone_raw,
        phone_e164,
        unusable_reason,
        coalesce(unusable_reason = 'test_number', false) as is_test_number,
        unusable_reason is null as is_usable,
        -- a parsed string never changes: a live build tests the strings it parsed (see
        -- identity_rebuilt_rows)
        (select batch.run_number from batch) as parsed_in_run
    from parsed

)

select * from final

{{
    config(
        materialized='incremental',
        unique_key='lead_id',
        on_schema_change='fail',
    )
}}

-- One row per Meta lead: the newest landed version of each lead object, answers pulled out of
-- field_data by case-insensitive name (older forms use FULL_NAME, PHONE; custom questions name
-- the phone anything with phone/mobile/whatsapp in it).
{%- set phone_names = [
    'phone_number', 'phone', 'mobile', 'mobile_number', 'mobile_phone',
    'phone_number_with_country_code', 'contact_number', 'whatsapp_number',
] %}
with

source as (

    select * from {{ source('meta_lead_ads', 'meta_leads') }}
    {% if is_incremental() %}
        -- only leads with a version landed since the last run (less a look-back)
        where lead_id in (
            select recent.lead_id
            from {{ source('meta_lead_ads', 'meta_leads') }} as recent
            where recent.landed_at >= {{ incremental_landed_since('last_landed_at') }}
        )
    {% endif %}

),

latest as (

    select distinct on (lead_id)
        lead_id,
        payload,
        raw_id,
        landed_at,
        batch_id
    from source
    order by lead_id asc, raw_id desc

),

landings as (

    select
        lead_id,
        count(*) as version_count,
        min(landed_at) as first_landed_at
    from source
    group by lead_id

),

-- the phone answer once per lead (capped below: capped_phone_text reads it twice)
phone_answers as (

    select
        lead_id,
        trim({{ meta_field_answer(json_value('payload', 'field_data'), phone_names,
            'phone|mobile|whatsapp|contact_no') }}) as phone_answer
    from latest

),

renamed as (

    select
        latest.lead_id,

        ---------- lead
        {{ parse_timestamp(json_text('latest.payload', 'created_time'), 'UTC') }} as created_at,
        nullif({{ json_text('latest.payload', 'form_id') }}, '') as form_id,
        nullif({{ json_text('latest.payload', 'platform') }}, '') as platform,
        {{ lenient_cast(json_text('latest.payload', 'is_organic'), 'boolean') }} as is_organic,

        ---------- ad
        nullif({{ json_text('latest.payload', 'ad_id') }}, '') as ad_id,
        nullif({{ json_text('latest.payload', 'ad_name') }}, '') as ad_name,
        nullif({{ json_text('latest.payload', 'adset_id') }}, '') as adset_id,
        nullif({{ json_text('latest.payload', 'adset_name') }}, '') as adset_name,
        nullif({{ json_text('latest.payload', 'campaign_id') }}, '') as campaign_id,
        nullif({{ json_text('latest.payload', 'campaign_name') }}, '') as campaign_name,

        ---------- answers
        -- capped (capped_phone_text): int_phone_numbers indexes every phone string
        {{ capped_phone_text('phone_answers.phone_answer') }} as phone_raw,
        coalesce(
            trim({{ meta_field_answer(
                json_value('latest.payload', 'field_data'), ['full_name', 'name']
            ) }}),
            nullif(trim(concat_ws(
                ' ',
                trim({{ meta_field_answer(
                    json_value('latest.payload', 'field_data'), ['first_name']
                ) }}),
                trim({{ meta_field_answer(
                    json_value('latest.payload', 'field_data'), ['last_name']
                ) }})
            )), '')
        ) as full_name,
        lower(trim({{ meta_field_answer(
            json_value('latest.payload', 'field_data'), ['email', 'email_address']
        ) }})) as email,
        trim({{ meta_field_answer(json_value('latest.payload', 'field_data'), ['city']) }}) as city,
        {{ json_value('latest.payload', 'field_data') }} as field_data,

        ---------- lineage
        latest.raw_id as latest_raw_id,
        latest.batch_id as latest_batch_id,
        landings.version_count,
        landings.first_landed_at,
        latest.landed_at as last_landed_at

    from latest
    inner join landings on latest.lead_id = landings.lead_id
    inner join phone_answers on latest.lead_id = phone_answers.lead_id

),

final as (

    select
        *,
        -- Leads from Meta's testing tool carry dummy answers; there is no test flag.
        coalesce(
            phone_raw like '<test lead%'
            or email in ('test@meta.com', 'test@fb.com')
            or full_name like '<test lead%',
            false
        ) as is_test_lead
    from renamed

)

select * from final

{{
    config(
        materialized='incremental',
        unique_key='call_uuid',
        on_schema_change='fail',
    )
}}

-- One row per Knowlarity call. A call arrives as several bodies (API record, webhook, SR hook
-- CDR, live events); each field is taken from the best version that has it: call-log records
-- first, then CDRs, then live events, newest first within a shape.
with

source as (

    select * from {{ source('knowlarity', 'knowlarity_calls') }}
    {% if is_incremental() %}
        -- only calls with a body landed since the last run (less a look-back for transactions
        -- that committed late); each is folded again from all of its bodies
        where call_uuid in (
            select recent.call_uuid
            from {{ source('knowlarity', 'knowlarity_calls') }} as recent
            where recent.landed_at >= {{ incremental_landed_since('last_landed_at') }}
        )
    {% endif %}

),

versions as (

    select
        raw_id,
        call_uuid,
        payload_shape,
        landed_at,
        landed_from,
        case
            when payload_shape = 'webhook_wrapped' then {{ json_value('payload', 'data') }}
            else payload
        end as call_body,
        case payload_shape
            when 'calllog' then 1
            when 'webhook_wrapped' then 1
            when 'sr_hook_cdr' then 2
            when 'live_cdr' then 3
            else 4
        end as shape_rank

    from source

),

fields as (

    select
        raw_id,
        call_uuid,
        payload_shape,
        landed_at,
        landed_from,
        shape_rank,

        ---------- parties
        -- phone strings are capped (capped_phone_text): int_phone_numbers indexes them
        {{ capped_phone_text("coalesce(
            nullif(trim(" ~ json_text('call_body', 'customer_number') ~ "), ''),
            nullif(trim(" ~ json_text('call_body', 'caller_id') ~ "), ''),
            nullif(trim(" ~ json_text('call_body', 'caller') ~ "), '')
        )") }} as customer_phone_raw,
        {{ capped_phone_text("nullif(trim(coalesce(
            " ~ json_text('call_body', 'knowlarity_number') ~ ",
            " ~ json_text('call_body', 'dispnumber') ~ "
        )), '')") }} as knowlarity_number,
        nullif(trim({{ json_text('call_body', 'agent_number') }}), '') as agent_number,
        nullif(trim({{ json_text('call_body', 'destination') }}), '') as destination,

        ---------- call
        case
            when payload_shape = 'live_event'
                then {{ parse_timestamp(
                    json_text('call_body', 'event_date_local'), 'Asia/Kolkata'
                ) }}
            else {{ parse_timestamp(json_text('call_body', 'start_time'), 'Asia/Kolkata') }}
        end as call_started_at,
        case
            when payload_shape = 'live_cdr'
                then {{ parse_timestamp(json_text('call_body', 'end_time'), 'UTC') }}
            else {{ parse_timestamp(json_text('call_body', 'end_time'), 'Asia/Kolkata') }}
        end as call_ended_at,
        {{ lenient_cast(json_text('call_body', 'call_duration'), 'integer') }}
            as call_duration_seconds,
        case
            when lower(coalesce(
                {{ json_text('call_body', 'Call_Type') }},
                {{ json_text('call_body', 'call_type') }},
                {{ json_text('call_body', 'call_direction') }}
            )) in ('0', 'incoming', 'inbound') then 'incoming'
            when lower(coalesce(
                {{ json_text('call_body', 'Call_Type') }},
                {{ json_text('call_body', 'call_type') }},
                {{ json_text('call_body', 'call_direction') }}
            )) in ('1', 'outgoing', 'outbound') then 'outgoing'
        end as call_direction,
        nullif(trim({{ json_text('call_body', 'business_call_type') }}), '') as business_call_type,
        nullif(trim(coalesce(
            {{ json_text('call_body', 'call_recording') }},
            {{ json_text('call_body', 'resource_url') }}
        )), '') as call_recording_url

    from versions

),

calls as (

    select
        call_uuid,

        ---------- parties
        {{ first_present('customer_phone_raw', 'shape_rank, raw_id desc') }} as customer_phone_raw,
        {{ first_present('knowlarity_number', 'shape_rank, raw_id desc') }} as knowlarity_number,
        {{ first_present('agent_number', 'shape_rank, raw_id desc') }} as agent_number,
        {{ first_present('destination', 'shape_rank, raw_id desc') }} as destination,

        ---------- call
        {{ first_present('call_started_at', 'shape_rank, call_started_at, raw_id desc') }}
            as call_started_at,
        {{ first_present('call_ended_at', 'shape_rank, raw_id desc') }} as call_ended_at,
        {{ first_present('call_duration_seconds', 'shape_rank, raw_id desc') }}
            as call_duration_seconds,
        {{ first_present('call_direction', 'shape_rank, raw_id desc') }} as call_direction,
        {{ first_present('business_call_type', 'shape_rank, raw_id desc') }}
            as business_call_type,
        {{ first_present('call_recording_url', 'shape_rank, raw_id desc') }}
            as call_recording_url,

        ---------- lineage
        count(*) as version_count,
        string_agg(distinct payload_shape, ',' order by payload_shape) as payload_shapes,
        (array_agg(payload_shape order by raw_id))[1] as first_payload_shape,
        (array_agg(landed_from order by raw_id))[1] as first_landed_from,
        min(landed_at) as first_landed_at,
        max(landed_at) as last_landed_at,
        max(raw_id) as latest_raw_id

    from fields
    group by call_uuid

),

final as (

    select
        *,
        coalesce(
            business_call_type = 'Missed Call' or call_duration_seconds = 0, false
        ) as is_missed_call
    from calls

)

select * from final

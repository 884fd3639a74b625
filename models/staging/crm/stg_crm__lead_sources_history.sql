with

source as (

    select * from {{ source('crm', 'lead_sources_history') }}

),

renamed as (

    select
        lead_id,
        source_id,
        nullif(trim(external_id), '') as external_id,
        raw_payload,
        received_at,
        is_primary

    from source

)

select * from renamed

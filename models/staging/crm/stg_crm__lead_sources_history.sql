with

source as (

    -- the columns read, by name: the view then depends on these only (see crm_source_columns)
    select
        {{ crm_source_columns('lead_sources_history', ['lead_id', 'source_id', 'received_at'],
            {'external_id': 'text', 'raw_payload': 'jsonb', 'is_primary': 'boolean'}) }}
    from {{ source('crm', 'lead_sources_history') }}

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

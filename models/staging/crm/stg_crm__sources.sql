with

source as (

    select * from {{ source('crm', 'sources') }}

),

renamed as (

    select
        id as source_id,
        display_name,
        source_type,
        total_leads_count,
        todays_leads_count

    from source

)

select * from renamed

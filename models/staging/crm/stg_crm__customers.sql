with

source as (

    select * from {{ source('crm', 'customers') }}

),

renamed as (

    select
        id as customer_id,
        phone_number_normalized as phone_number_raw,
        nullif(trim(full_name), '') as full_name,
        nullif(lower(trim(email)), '') as email,
        nullif(trim(city), '') as city,
        created_at,
        updated_at

    from source

)

select * from renamed

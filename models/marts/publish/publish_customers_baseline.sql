-- The CRM's customers as this build saw them: `leadlink publish` updates a customer only while
-- the live row still holds these values (compare-and-set), so an edit the app makes after the
-- build is never overwritten.
with

crm_customers as (

    select * from {{ ref('stg_crm__customers') }}

),

baseline as (

    select
        customer_id,
        phone_number_raw,
        full_name,
        email,
        city,
        updated_at

    from crm_customers

)

select * from baseline

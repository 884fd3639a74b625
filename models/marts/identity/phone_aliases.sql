{{ config(materialized='view') }}

-- All spellings of each usable number (a view: the lookup reads it through the index of
-- int_phone_numbers on phone_e164).
with

phone_numbers as (

    select * from {{ ref('int_phone_numbers') }}

),

aliases as (

    select
        phone_raw,
        phone_e164
    from phone_numbers
    where is_usable

)

select * from aliases

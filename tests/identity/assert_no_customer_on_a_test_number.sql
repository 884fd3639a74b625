-- Test and junk numbers never create or join a customer: fails on each customer whose phone the
-- normaliser flags as a test number (repeated digits, runs, seeds/phone_test_numbers.csv).
with

customers as (

    select * from {{ ref('customers') }}

),

phone_numbers as (

    select * from {{ ref('int_phone_numbers') }}

),

on_test_numbers as (

    select
        customers.customer_id,
        customers.phone_e164
    from customers
    where exists (
        select from phone_numbers
        where
            phone_numbers.phone_e164 = customers.phone_e164
            and phone_numbers.is_test_number
    )

)

select * from on_test_numbers

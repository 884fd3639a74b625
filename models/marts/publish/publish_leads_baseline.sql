-- leads_master.customer_id as this build saw it, for the rows publish may change: `leadlink
-- publish` sets a lead's customer_id only while the live row still holds this value
-- (compare-and-set). Only the rows whose customer_id the marts would set or change: a row the
-- build saw already right needs no write, so publish never compares the whole of leads_master.
with

customer_id_changes as (

    select * from {{ ref('leads_master_customer_id_changes') }}

),

baseline as (

    select
        legacy_lead_id as lead_id,
        current_customer_id as customer_id

    from customer_id_changes

)

select * from baseline

{{
    config(
        indexes=[{'columns': ['phone_e164'], 'unique': True}],
        post_hook=["analyze {{ this }}"],
    )
}}

-- The people (usable E.164) whose touches, leads and customer this run rebuilds: the phones the
-- changed touches and customers had before (int_identity_changes) and have now (the touch's own
-- phone; for a history row, the phone of the CRM lead it is filed under). Empty when the run
-- rebuilds everything.
with

changes as (

    select * from {{ ref('int_identity_changes') }}

),

touches as not materialized (

    select * from {{ ref('int_touches_unioned') }}

),

crm_customers as (

    select * from {{ ref('int_crm_customers_normalized') }}

),

changed_touches as not materialized (

    select touches.*
    from touches
    where touches.touch_id in (
        select changes.change_key from changes
        where changes.change_kind = 'touch'
    )

),

people as (

    select change_key as phone_e164
    from changes
    where change_kind = 'person'
    union
    select phone_e164
    from changed_touches
    where phone_e164 is not null and touch_origin in ('crm_lead', 'intake')
    union
    select filed.phone_e164
    from changed_touches as history
    inner join touches as filed
        on
            history.legacy_lead_id = filed.legacy_lead_id
            and filed.touch_origin = 'crm_lead'
    where history.touch_origin = 'crm_history' and filed.phone_e164 is not null
    union
    select crm_customers.phone_e164
    from crm_customers
    where
        crm_customers.phone_e164 is not null
        and crm_customers.customer_id in (
            select cast(changes.change_key as bigint) from changes
            where changes.change_kind = 'crm_customer'
        )

)

select * from people

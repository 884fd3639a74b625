-- The write horizon of the last complete build (int_identity_checkpoint): every CRM row stamped
-- before it was read by that build or an earlier one, so only rows stamped since can be news to
-- the marts `leadlink publish` writes from (a customer the app created after the build, say).
-- Publish reads it to look at just those rows instead of scanning the CRM's tables. Built after
-- the checkpoint: a build that fails half way leaves the older horizon, which is safe (it only
-- makes publish look at more rows).
with

checkpoint as (

    select * from {{ ref('int_identity_checkpoint') }}

),

horizon as (

    select
        crm_write_horizon,
        now() as built_at
    from checkpoint

)

select * from horizon

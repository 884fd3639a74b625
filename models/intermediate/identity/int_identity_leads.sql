{{
    config(
        indexes=[{'columns': ['lead_id'], 'unique': True}],
        post_hook=["analyze {{ this }}"],
    )
}}

-- The leads this run rebuilds: every lead of an affected person, every lead a changed touch is
-- in now or was in before. Computed once: leads, lead_touches, unlinkable_leads and their
-- tests read it several times each, and with exact statistics the planner looks the few leads
-- up by key. Empty when the run rebuilds everything (so are its inputs).
with

assignments as not materialized (

    select * from {{ ref('int_touches_assigned') }}

),

people as (

    select * from {{ ref('int_identity_people') }}

),

changes as (

    select * from {{ ref('int_identity_changes') }}

),

scoped_leads as (

    select assignments.lead_id
    from assignments
    where assignments.person_e164 in (select people.phone_e164 from people)
    union
    select assignments.lead_id
    from assignments
    where
        assignments.touch_id in (
            select changes.change_key
            from changes
            where changes.change_kind = 'touch'
        )
    union
    select changes.change_key as lead_id
    from changes
    where changes.change_kind = 'lead'

)

select * from scoped_leads

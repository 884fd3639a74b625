{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='sync_all_columns',
        indexes=[
            {'columns': ['touch_id'], 'unique': True},
            {'columns': ['lead_id']},
            {'columns': ['person_e164']},
        ],
        pre_hook=["{{ identity_replace_scope(identity_rebuilt_rows('int_touches_assigned', this)) }}"],
        post_hook=["{{ identity_refresh_statistics() }}"],
    )
}}

-- depends_on: {{ ref('int_identity_batch') }}
-- depends_on: {{ ref('int_identity_changes') }}
-- depends_on: {{ ref('int_identity_people') }}
-- Which lead each touch of int_touches_unioned opened or joined, and how (touch_id, lead_id,
-- touch_type): the CRM's intake cases A/B/C per person and branch, made precise (docs/identity.md):
--   * every CRM lead is a lead of its own (the CRM's ids are kept);
--   * a new record joins the person's latest lead in the same branch while that lead is open:
--     not Lost / Unqualified before the record came, and active within `lead_open_window_days`;
--   * otherwise it opens a new lead (case A), and the records after it join that one;
--   * a record the CRM filed under an existing lead (lead_sources_history) stays with that lead;
--   * a record without a usable phone cannot be matched to anyone: it is a lead of its own.
-- A joining touch is a same_source_duplicate (case B) or cross_source (case C) by the source of
-- the touch that opened the lead. person_e164 is the person whose sequence decided it (for a
-- history row, the person of the CRM lead it is filed under).
-- Incremental: the rules are per person, so a run assigns again every touch of the people in
-- int_identity_people and the changed touches, and keeps every other row as built.
{%- set restricted = identity_is_restricted() %}
{%- set window_days = var('lead_open_window_days') | int %}
{%- set per_person_branch = 'phone_e164, matching_branch_id' %}
{%- set in_time_order = 'touched_at, origin_order, touch_id' %}
with

all_touches as not materialized (

    select * from {{ ref('int_touches_unioned') }}

),

{%- if restricted %}

-- the people's touches, the changed ones, the history rows filed under the people's CRM leads
-- and the CRM leads those history rows are filed under
scoped_touches as (

    select all_touches.touch_id
    from all_touches
    where
        all_touches.phone_e164 in {{ identity_people() }}
        and all_touches.touch_origin in ('crm_lead', 'intake')
    union
    select all_touches.touch_id
    from all_touches
    where all_touches.touch_id in {{ identity_changed('touch') }}

),

scoped_history as (

    select filed.touch_id
    from all_touches as history
    inner join all_touches as filed
        on
            history.legacy_lead_id = filed.legacy_lead_id
            and filed.touch_origin = 'crm_lead'
    where
        history.touch_origin = 'crm_history'
        and history.touch_id in (select scoped_touches.touch_id from scoped_touches)
    union
    select history.touch_id
    from all_touches as filed
    inner join all_touches as history
        on
            filed.legacy_lead_id = history.legacy_lead_id
            and history.touch_origin = 'crm_history'
    where
        filed.touch_origin = 'crm_lead'
        and filed.touch_id in (select scoped_touches.touch_id from scoped_touches)

),

-- what this run writes: the filed CRM leads were only read for their history rows
output_touches as (

    select touch_id from scoped_touches
    union
    select history.touch_id
    from scoped_history
    inner join all_touches as history
        on scoped_history.touch_id = history.touch_id
    where history.touch_origin = 'crm_history'

),
{%- endif %}

touches as not materialized (

    select * from all_touches
    {%- if restricted %}
        -- one key set, not two `in`s joined by `or`: that scans every touch against both
        where touch_id in (
            select scoped_touches.touch_id from scoped_touches
            union
            select scoped_history.touch_id from scoped_history
        )
    {%- endif %}

),

sequenced as (

    select
        touch_id,
        touch_origin,
        source,
        phone_e164,
        touched_at,
        closed_at,
        coalesce(branch_id, {{ var('default_branch_id') }}) as matching_branch_id,
        -- at the same instant the CRM's lead comes first, so a record joins it
        case touch_origin when 'crm_lead' then 0 else 1 end as origin_order,
        max(active_at) over (
            partition by phone_e164, coalesce(branch_id, {{ var('default_branch_id') }})
            order by
                touched_at,
                case touch_origin when 'crm_lead' then 0 else 1 end,
                touch_id
            rows between unbounded preceding and 1 preceding
        ) as previous_active_at
    from touches
    where
        phone_e164 is not null
        and touch_origin in ('crm_lead', 'intake')
        -- a person and branch with CRM leads only needs no sequencing: each is its own lead
        and (phone_e164, coalesce(branch_id, {{ var('default_branch_id') }})) in (
            select
                intake.phone_e164,
                coalesce(intake.branch_id, {{ var('default_branch_id') }})
            from touches as intake
            where intake.touch_origin = 'intake' and intake.phone_e164 is not null
        )

),

segmented as (

    select
        *,
        sum(
            case
                when
                    touch_origin = 'crm_lead'
                    or previous_active_at is null
                    or touched_at > previous_active_at + interval '{{ window_days }} days'
                    then 1
                else 0
            end
        ) over (
            partition by {{ per_person_branch }}
            order by {{ in_time_order }}
            rows unbounded preceding
        ) as segment_number
    from sequenced

),

segment_heads as (

    select
        *,
        first_value(touch_origin) over segment as head_origin,
        first_value(closed_at) over segment as head_closed_at
    from segmented
    window segment as (
        partition by {{ per_person_branch }}, segment_number
        order by {{ in_time_order }}
    )

),

-- a segment opened by a CRM lead that was closed: the records after the closing open a new lead
split_at_closing as (

    select
        *,
        coalesce(
            head_origin = 'crm_lead'
            and touch_origin = 'intake'
            and touched_at >= head_closed_at,
            false
        ) as is_after_closing
    from segment_heads

),

matched_leads as (

    select
        touch_id,
        first_value(touch_id) over lead_segment as lead_id,
        first_value(source) over lead_segment as lead_source
    from split_at_closing
    window lead_segment as (
        partition by {{ per_person_branch }}, segment_number, is_after_closing
        order by {{ in_time_order }}
    )

),

-- the CRM leads that history rows were filed under
history_leads as (

    select
        crm_lead.legacy_lead_id,
        crm_lead.touch_id as lead_id,
        crm_lead.source as lead_source,
        crm_lead.phone_e164 as person_e164
    from touches as crm_lead
    where
        crm_lead.touch_origin = 'crm_lead'
        and crm_lead.legacy_lead_id in (
            select history.legacy_lead_id
            from touches as history
            where history.touch_origin = 'crm_history'
        )

),

assigned as (

    select
        touches.touch_id,
        touches.source,
        -- no usable phone: nobody to join, a lead of its own
        coalesce(matched_leads.lead_id, history_leads.lead_id, touches.touch_id) as lead_id,
        coalesce(matched_leads.lead_source, history_leads.lead_source, touches.source)
            as lead_source,
        case
            when touches.touch_origin = 'crm_history' then history_leads.person_e164
            else touches.phone_e164
        end as person_e164
    from touches
    left join matched_leads
        on touches.touch_id = matched_leads.touch_id
    left join history_leads
        on
            touches.touch_origin = 'crm_history'
            and touches.legacy_lead_id = history_leads.legacy_lead_id

),

typed as (

    select
        touch_id,
        lead_id,
        case
            when lead_id = touch_id then 'new_lead'
            when source = lead_source then 'same_source_duplicate'
            else 'cross_source'
        end as touch_type,
        person_e164
    from assigned
    {%- if restricted %}
        where touch_id in (select output_touches.touch_id from output_touches)
    {%- endif %}

)

select * from typed

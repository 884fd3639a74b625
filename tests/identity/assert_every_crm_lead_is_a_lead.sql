-- Legacy leads keep their ids: fails on each leads_master row that is not a lead of its own. A
-- live build checks the CRM leads it changed and those whose touches it assigned again
-- (data_tests_read_rebuilt_rows); `dbt test` and --full-refresh check every one.
{%- set restricted = leadlink.data_tests_read_rebuilt_rows() %}
with

crm_leads as (

    select * from {{ ref('stg_crm__leads_master') }}
    {%- if restricted %}
        where lead_id in (
            {{ identity_changed('crm_lead', 'bigint') }}
            union
            select touches.legacy_lead_id
            from {{ identity_model('int_touches_unioned') }} as touches
            where touches.touch_id in (
                select scoped.touch_id
                from {{ identity_model('int_touches_assigned') }} as scoped
                where scoped.lead_id in {{ identity_leads() }}
                union
                select scoped.touch_id
                from {{ identity_model('int_touches_assigned') }} as scoped
                where scoped.person_e164 in {{ identity_people() }}
            )
        )
    {%- endif %}

),

leads as (

    select * from {{ ref('leads') }}

),

missing as (

    select crm_leads.lead_id
    from crm_leads
    where not exists (
        select from leads
        where leads.legacy_lead_id = crm_leads.lead_id
    )

)

select * from missing

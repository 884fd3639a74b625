{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook=["{{ identity_replace_scope('legacy_lead_id in ' ~ customer_id_changes_scope()) }}"],
        post_hook=["{{ ensure_key('primary key', 'legacy_lead_id') }}"],
    )
}}

-- depends_on: {{ ref('int_identity_batch') }}
-- depends_on: {{ ref('int_identity_changes') }}
-- depends_on: {{ ref('int_identity_leads') }}
-- depends_on: {{ ref('int_crm_written_rows') }}
-- The leads_master rows whose customer_id `leadlink publish` would set (it is empty) or change
-- (it points at another customer: a merged duplicate, a junk-number customer, a wrong match),
-- as of this build.
-- Incremental: a row changes only when its CRM lead is written (int_crm_written_rows: publish
-- and the app set customer_id without touching updated_at) or its mart lead is rebuilt; the
-- pre-hook deletes the rows of those leads (customer_id_changes_scope) and the run compares just
-- them again. `leadlink readiness --refresh` rebuilds it whole.
{%- set restricted = identity_is_restricted() %}
with

crm_leads as (

    select * from {{ ref('stg_crm__leads_master') }}
    {%- if restricted %}
        where lead_id in {{ customer_id_changes_scope() }}
    {%- endif %}

),

leads as not materialized (

    select * from {{ ref('leads') }}

),

changes as (

    select
        crm_leads.lead_id as legacy_lead_id,
        crm_leads.customer_id as current_customer_id,
        leads.customer_id as new_customer_id,
        case when crm_leads.customer_id is null then 'set' else 'change' end as change_kind
    from crm_leads
    inner join leads
        on crm_leads.lead_id = leads.legacy_lead_id
    where
        leads.customer_id is not null
        and crm_leads.customer_id is distinct from leads.customer_id

)

select * from changes

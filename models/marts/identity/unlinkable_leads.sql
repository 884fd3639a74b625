{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='lead_id',
        on_schema_change='append_new_columns',
        pre_hook=["{{ identity_replace_scope(unlinkable_leads_stale()) }}"],
        post_hook=[
            "{{ ensure_key('primary key', 'lead_id') }}",
        ],
    )
}}

-- depends_on: {{ ref('int_identity_batch') }}
-- depends_on: {{ ref('int_identity_changes') }}
-- depends_on: {{ ref('int_crm_written_rows') }}
-- depends_on: {{ ref('int_identity_leads') }}
-- depends_on: {{ ref('int_touches_assigned') }}
-- The review queue: leads that no usable phone ties to a person (empty, not a number, too short
-- or long, invalid, or a test number), with the normaliser's reason and what staff need to fix it.
-- Incremental: the pre-hook (unlinkable_leads_stale) deletes the rows of the leads the run
-- rebuilds; the run builds those again and replaces (delete+insert) the rows of the CRM leads
-- written since the last run (int_crm_written_rows): crm_customer_id is the CRM's live
-- customer_id, which publish and the app set without touching updated_at (a write the identity
-- models do not key again: no touch reads it).
{%- set restricted = identity_is_restricted() %}
with

-- restricted: the leads the run rebuilt and those of the CRM leads written since, picked first
-- and computed once (else the planner joins every unlinkable lead with its touch and CRM row
-- before it keeps these)
leads_without_customer as {{ 'materialized' if restricted else 'not materialized' }} (

    select built_leads.* from {{ ref('leads') }} as built_leads
    where built_leads.customer_id is null
    {%- if restricted %}
        and built_leads.lead_id in (
            select rebuilt.lead_id from {{ identity_leads() }} as rebuilt (lead_id)
            union
            select written_lead.lead_id
            from {{ ref('leads') }} as written_lead
            where written_lead.legacy_lead_id in {{ crm_rows_to_compare('leads_master') }}
        )
    {%- endif %}

),

touches as (

    select * from {{ ref('int_touches_unioned') }}

),

crm_leads as (

    select * from {{ ref('stg_crm__leads_master') }}

),

unlinkable as (

    select
        leads.lead_id,
        leads.legacy_lead_id,
        leads.source,
        leads.external_lead_id,
        lead_openers.phone_raw,
        leads.unusable_reason as reason,
        leads.branch_id,
        leads.status,
        leads.created_at,
        coalesce(lead_openers.crm_full_name, lead_openers.form_full_name) as full_name,
        lead_openers.form_email as email,
        leads.is_test_lead,
        crm_leads.customer_id as crm_customer_id
    from leads_without_customer as leads
    inner join touches as lead_openers
        on leads.lead_id = lead_openers.touch_id
    left join crm_leads
        on leads.legacy_lead_id = crm_leads.lead_id

)

select * from unlinkable

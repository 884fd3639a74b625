{#- The customer_id of a person the CRM does not know yet, computed from the phone alone, so it
    is the same in every run, after --full-refresh and on a rebuilt database, whatever order the
    records arrived in:

        2^52 + (digits of the E.164 number x 695844410359083) mod 2^50

    E.164 numbers have at most 15 digits (< 2^50) and the multiplier is odd, so the map is a
    bijection: two phones never share an id. The ids start at 2^52, far above any value the CRM's
    identity sequence reaches, so published ids never collide with the app's own; and they stay
    below 2^53, exact as JavaScript numbers. The scrambling keeps the digits from being read off
    the id at a glance; it is not a secret (anyone with this file can invert it). -#}
{% macro stable_customer_id(phone_e164) %}
    {{ return(adapter.dispatch('stable_customer_id', 'leadlink')(phone_e164)) }}
{% endmacro %}

{% macro default__stable_customer_id(phone_e164) %}
    cast(
        4503599627370496
        + mod(cast(substr({{ phone_e164 }}, 2) as numeric) * 695844410359083, 1125899906842624)
        as bigint
    )
{% endmacro %}


{#- A touch's key: `<channel>:<external id>` for records with an id of their own (Knowlarity
    call uuid, Meta lead id), so the same record has one key whether it came by API, webhook or
    through the CRM; `crm-lead:<leads_master.id>` for CRM rows without one. -#}
{% macro touch_key(channel, external_id) %}
    {{ return(adapter.dispatch('touch_key', 'leadlink')(channel, external_id)) }}
{% endmacro %}

{% macro default__touch_key(channel, external_id) %}
    {{ dbt.concat([channel, "':'", external_id]) }}
{% endmacro %}


{#- What a joined int_phone_numbers row (`phone_alias`, possibly missing) says about identity:
    the E.164 when the number identifies a person, else null with the reason (`empty` when the
    record had no phone at all). -#}
{% macro person_e164(phone_alias) %}
    case when coalesce({{ phone_alias }}.is_usable, false) then {{ phone_alias }}.phone_e164 end
{%- endmacro %}

{% macro person_unusable_reason(phone_alias) %}
    case
        when not coalesce({{ phone_alias }}.is_usable, false)
            then coalesce({{ phone_alias }}.unusable_reason, 'empty')
    end
{%- endmacro %}


{#- The condition of customer_merges' pre-hook: its rows to build again. The customers the run
    reads again (either side of the pair), a duplicate that no longer merges into that survivor,
    and a row whose leads_master_ids or is_marked_in_crm differ from the CRM's live rows: publish
    (and the app) repoint leads and mark merges without touching updated_at. -#}
{% macro customer_merges_stale() %}
    {%- set stored = this.identifier -%}
    (
        {{ stored }}.merged_customer_id in {{ identity_changed('crm_customer', 'bigint') }}
        or {{ stored }}.surviving_customer_id in {{ identity_changed('crm_customer', 'bigint') }}
        or not exists (
            select from {{ ref('int_crm_customers_normalized') }} as crm_customer
            where
                crm_customer.customer_id = {{ stored }}.merged_customer_id
                and crm_customer.is_merged
                and crm_customer.surviving_customer_id = {{ stored }}.surviving_customer_id
        )
        or {{ stored }}.is_marked_in_crm is distinct from coalesce((
            select crm_mark.merged_into_customer_id = {{ stored }}.surviving_customer_id
            from {{ ref('stg_crm__customers') }} as crm_mark
            where crm_mark.customer_id = {{ stored }}.merged_customer_id
        ), false)
        or {{ stored }}.leads_master_ids is distinct from coalesce((
            select array_agg(crm_lead.lead_id order by crm_lead.lead_id)
            from {{ ref('stg_crm__leads_master') }} as crm_lead
            where crm_lead.customer_id = {{ stored }}.merged_customer_id
        ), cast(array[] as bigint[]))
    )
{%- endmacro %}


{#- The condition of unlinkable_leads' pre-hook: its rows to build again. The leads the run
    rebuilds, a lead that has a customer now, and a row whose crm_customer_id differs from the
    CRM's live customer_id: publish and the app set it without touching updated_at. -#}
{% macro unlinkable_leads_stale() %}
    {%- set stored = this.identifier -%}
    (
        {{ stored }}.lead_id in {{ identity_leads() }}
        or not coalesce((
            select built_lead.customer_id is null
            from {{ ref('leads') }} as built_lead
            where built_lead.lead_id = {{ stored }}.lead_id
        ), false)
        or {{ stored }}.crm_customer_id is distinct from (
            select crm_lead.customer_id
            from {{ ref('stg_crm__leads_master') }} as crm_lead
            where crm_lead.lead_id = {{ stored }}.legacy_lead_id
        )
    )
{%- endmacro %}

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


{#- The ids of one CRM table's rows (leads_master or customers) this run looks at again: written
    since the last complete run (int_crm_written_rows) or in the run's scope of that table
    (int_identity_changes: created, edited, deleted; for leads, claiming a changed external id;
    for customers, every other customer of their people). A subquery for `... in <subquery>`. -#}
{% macro crm_rows_to_compare(crm_table) %}
    {%- set change_kinds = {'leads_master': 'crm_lead', 'customers': 'crm_customer'} %}
    (
        select written.row_id from {{ crm_written(crm_table) }} as written (row_id)
        union
        select cast(changed.change_key as bigint)
        from {{ identity_model('int_identity_changes') }} as changed
        where changed.change_kind = '{{ change_kinds[crm_table] }}'
    )
{%- endmacro %}


{#- The CRM leads whose customer_id change leads_master_customer_id_changes compares again: the
    CRM leads to compare (written since the last run, or in its crm_lead scope) and those of
    the leads the run rebuilds (their customer_id in the marts may have changed). -#}
{% macro customer_id_changes_scope() %}
    (
        select compared.row_id from {{ crm_rows_to_compare('leads_master') }} as compared (row_id)
        union
        select rebuilt_lead.legacy_lead_id
        from {{ ref('leads') }} as rebuilt_lead
        where
            rebuilt_lead.lead_id in {{ identity_leads() }}
            and rebuilt_lead.legacy_lead_id is not null
    )
{%- endmacro %}


{#- The CRM customers publish_customers_baseline compares again: the CRM customers to compare
    and the customers of the people the run rebuilds. -#}
{% macro customers_baseline_scope() %}
    (
        select compared.row_id from {{ crm_rows_to_compare('customers') }} as compared (row_id)
        union
        select rebuilt_customer.customer_id
        from {{ ref('customers') }} as rebuilt_customer
        where rebuilt_customer.phone_e164 in {{ identity_people() }}
    )
{%- endmacro %}


{#- The condition of publish_customers_baseline's pre-hook: the customers it compares again, and
    a row whose customer is no longer in the customers mart (its person was rebuilt). -#}
{% macro customers_baseline_stale() %}
    {%- set stored = this.identifier -%}
    (
        {{ stored }}.customer_id in {{ customers_baseline_scope() }}
        -- a lookup per row by the primary key: as `not exists`, the planner hashes every customer
        or not coalesce((
            select true from {{ ref('customers') }} as mart_customer
            where mart_customer.customer_id = {{ stored }}.customer_id
        ), false)
    )
{%- endmacro %}


{#- The CRM leads whose readiness facts readiness_failing_leads checks again: the CRM leads to
    compare (written since the last run, or in its crm_lead scope) and the leads on a CRM
    customer to compare (created, deleted, its phone edited). -#}
{% macro readiness_leads_scope() %}
    (
        select compared.row_id from {{ crm_rows_to_compare('leads_master') }} as compared (row_id)
        union
        select crm_lead.lead_id
        from {{ ref('stg_crm__leads_master') }} as crm_lead
        where crm_lead.customer_id in {{ crm_rows_to_compare('customers') }}
    )
{%- endmacro %}


{#- The merged customers whose customer_merges rows this run builds: the CRM customers to compare
    (read again, or written: the merge mark), and those a lead written (or in the run's crm_lead
    scope) points at now or did when their row was built (array_overlap_rows on leads_master_ids,
    which a GIN index answers). A subquery for `... in <subquery>`; read by the model after its
    pre-hook, which deletes only the rows of customers read again. -#}
{% macro customer_merges_touched_by_writes() %}
    {%- set compared_leads = crm_rows_to_compare('leads_master') -%}
    (
        select compared.row_id from {{ crm_rows_to_compare('customers') }} as compared (row_id)
        union
        select crm_lead.customer_id
        from {{ ref('stg_crm__leads_master') }} as crm_lead
        where crm_lead.lead_id in {{ compared_leads }}
        union
        {{ array_overlap_rows(
            this, 'merged_customer_id', 'leads_master_ids', compared_leads,
            many=crm_written_count('leads_master') > var('crm_written_many') | int
        ) }}
    )
{%- endmacro %}


{#- The condition of customer_merges' pre-hook: the rows of the customers the run reads again
    (either side of the pair). The model builds those again and replaces the rows CRM writes
    touched (customer_merges_touched_by_writes, delete+insert). -#}
{% macro customer_merges_stale() %}
    {%- set stored = this.identifier -%}
    (
        {{ stored }}.merged_customer_id in {{ identity_changed('crm_customer', 'bigint') }}
        or {{ stored }}.surviving_customer_id in {{ identity_changed('crm_customer', 'bigint') }}
    )
{%- endmacro %}


{#- The condition of unlinkable_leads' pre-hook: the rows of the leads the run rebuilds. The
    model builds those again and replaces (delete+insert) the rows of the CRM leads written since
    the last run (crm_rows_to_compare), whose live customer_id publish and the app set without
    touching updated_at. -#}
{% macro unlinkable_leads_stale() %}
    {%- set stored = this.identifier -%}
    {{ stored }}.lead_id in {{ identity_leads() }}
{%- endmacro %}

-- What this run of the identity models has to look at: one row with the watermarks of the inputs
-- now, and from where to re-read them (the watermarks of the last complete run, in
-- int_identity_checkpoint, less `incremental_lookback_minutes` for transactions that committed
-- late), and the write horizon (macros/crm_writes.sql): the CRM rows stamped since the last
-- complete run's horizon are the rows written since, by anyone (int_crm_written_rows).
-- is_everything: no complete previous run, a changed seed, var or CRM sources table, a horizon
-- unknown or too far back, or --full-refresh: every identity row is rebuilt.
{%- set checkpoint = prior_relation('int_identity_checkpoint') %}
{%- set prior_models = [
    'int_touches_unioned', 'int_touches_assigned', 'int_crm_customers_normalized',
    'lead_touches',
] %}
{%- set ns = namespace(
    complete=checkpoint is not none and not flags.FULL_REFRESH, prior_run_number='cast(null as bigint)',
    prior_horizon='cast(null as bigint)'
) %}
{%- for name in prior_models %}
    {%- if prior_relation(name) is none %}{% set ns.complete = false %}{% endif %}
{%- endfor %}
{%- set lookback = lookback_interval() %}
{#- checkpoints written before run numbers existed have none: as if never counted -#}
{%- if ns.complete and execute %}
    {%- for column in adapter.get_columns_in_relation(checkpoint) %}
        {%- if column.name == 'run_number' %}{% set ns.prior_run_number = 'previous.run_number' %}{% endif %}
        {%- if column.name == 'crm_write_horizon' %}{% set ns.prior_horizon = 'previous.crm_write_horizon' %}{% endif %}
    {%- endfor %}
{%- endif %}
with

knowlarity_calls as (

    select last_landed_at from {{ ref('stg_knowlarity__calls') }}

),

meta_leads as (

    select last_landed_at from {{ ref('stg_meta_lead_ads__leads') }}

),

-- read twice (the facts and the rows past the last max id): inlined, so each read takes only
-- its columns (a materialised copy of every column cost 1.5 s at 1M leads; inlined 0.1-0.9 s)
crm_leads as not materialized (

    select * from {{ ref('stg_crm__leads_master') }}

),

crm_customers as not materialized (

    select * from {{ ref('stg_crm__customers') }}

),

crm_history as (

    select received_at from {{ ref('stg_crm__lead_sources_history') }}

),

crm_sources as (

    select * from {{ ref('stg_crm__sources') }}

),

knowlarity_number_branches as (

    select * from {{ ref('knowlarity_number_branches') }}

),

meta_form_branches as (

    select * from {{ ref('meta_form_branches') }}

),

-- what the rules read besides the records: a change rebuilds everything
rules as (

    select md5(concat_ws(
        '|',
        (
            select string_agg(concat_ws(',', source_id, channel), ';' order by source_id)
            from crm_sources
        ),
        (
            select string_agg(cast(branches as text), ';' order by cast(branches as text))
            from knowlarity_number_branches as branches
        ),
        (
            select string_agg(cast(forms as text), ';' order by cast(forms as text))
            from meta_form_branches as forms
        ),
        '{{ var("lead_open_window_days") }}',
        '{{ var("default_branch_id") }}',
        '{{ var("default_phone_region") }}'
    )) as rules_fingerprint

),

lead_facts as (

    select
        count(*) as crm_lead_count,
        max(lead_id) as crm_lead_max_id
    from crm_leads

),

customer_facts as (

    select
        count(*) as crm_customer_count,
        max(customer_id) as crm_customer_max_id
    from crm_customers

),

history_facts as (

    select
        max(received_at) as crm_history_received_through,
        count(*) as crm_history_count
    from crm_history

),

current_state as (

    select
        (select max(knowlarity_calls.last_landed_at) from knowlarity_calls) as calls_landed_through,
        (select max(meta_leads.last_landed_at) from meta_leads) as meta_landed_through,
        lead_facts.crm_lead_count,
        lead_facts.crm_lead_max_id,
        customer_facts.crm_customer_count,
        customer_facts.crm_customer_max_id,
        history_facts.crm_history_received_through,
        history_facts.crm_history_count,
        rules.rules_fingerprint,
        {{ crm_write_horizon() }} as crm_write_horizon
    from lead_facts
    cross join customer_facts
    cross join history_facts
    cross join rules

),

previous as (

    {%- if ns.complete %}
        select * from {{ checkpoint }}
    {%- else %}
        select * from current_state
        where false
    {%- endif %}

),

-- rows added since (the CRM's ids grow): fewer rows than before plus these means deletions
new_rows as (

    select
        (
            select count(*) from crm_leads
            where crm_leads.lead_id > (select previous.crm_lead_max_id from previous)
        ) as new_crm_leads,
        (
            select count(*) from crm_customers
            where crm_customers.customer_id > (select previous.crm_customer_max_id from previous)
        ) as new_crm_customers

),

batch as (

    select
        current_state.*,
        -- counts complete runs: the identity rows a run writes carry its number, so a row whose
        -- number is at most seen_through_run was written by a run that completed
        coalesce({{ ns.prior_run_number }}, 0) + 1 as run_number,
        {{ ns.prior_run_number }} as seen_through_run,
        coalesce(
            previous.rules_fingerprint <> current_state.rules_fingerprint
            -- rows are compared only with a horizon this server has reached, within its reach
            or not {{ write_horizon_comparable(
                ns.prior_horizon, 'current_state.crm_write_horizon'
            ) }},
            true
        ) as is_everything,
        -- the CRM rows stamped at or after this were written since the last complete run
        {{ ns.prior_horizon }} as crm_written_since,
        coalesce(
            previous.calls_landed_through - {{ lookback }}, cast('-infinity' as timestamptz)
        ) as calls_landed_since,
        coalesce(
            previous.meta_landed_through - {{ lookback }}, cast('-infinity' as timestamptz)
        ) as meta_landed_since,
        coalesce(
            previous.crm_history_received_through - {{ lookback }},
            cast('-infinity' as timestamptz)
        ) as crm_history_received_since,
        coalesce(
            current_state.crm_lead_count < previous.crm_lead_count + new_rows.new_crm_leads, false
        ) as crm_leads_may_be_deleted,
        coalesce(
            current_state.crm_customer_count
            < previous.crm_customer_count + new_rows.new_crm_customers,
            false
        ) as crm_customers_may_be_deleted,
        -- history rows carry no change time of their own (publish files them at the record's)
        coalesce(current_state.crm_history_count <> previous.crm_history_count, true)
            as crm_history_changed
    from current_state
    cross join new_rows
    left join previous
        on true

)

select * from batch

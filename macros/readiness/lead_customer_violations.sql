{#- The facts the FOREIGN KEY leads_master.customer_id -> customers.id and NOT NULL on
    customer_id depend on, defined once: readiness_checks counts them on the CRM's tables, and
    publish renders this file with jinja2 (no dbt context: plain Jinja only, no ref/adapter/var) to
    count them on the live tables before adding the constraints and on the state its plan
    predicts. `not exists` rather than a join: a duplicated id cannot inflate the counts. -#}
{% macro lead_customer_violations(lead_customers, customer_ids) -%}
select
    count(*) filter (
        where
        lead_customers.customer_id is not null
        and not exists (
            select from {{ customer_ids }} as known_customers
            where known_customers.id = lead_customers.customer_id
        )
    ) as missing_customer,
    count(*) filter (where lead_customers.customer_id is null) as without_customer
from {{ lead_customers }} as lead_customers
{%- endmacro %}

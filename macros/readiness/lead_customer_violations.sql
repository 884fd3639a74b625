{#- The facts the FOREIGN KEY leads_master.customer_id -> customers.id and NOT NULL on
    customer_id depend on, defined once: readiness_checks counts them on the CRM's tables, and
    publish renders this file with jinja2 (no dbt context: plain Jinja only, no ref/adapter/var) to
    count them on the live tables before adding the constraints and on the state its plan
    predicts. A lead without a customer_id matches no id either, so one anti-join (a hash anti
    join, not a lookup per lead) finds both kinds; `not exists`, not a join, so that a duplicated
    id cannot change the counts. -#}
{% macro lead_customer_violations(lead_customers, customer_ids) -%}
select
    count(*) filter (where lead_customers.customer_id is not null) as missing_customer,
    count(*) filter (where lead_customers.customer_id is null) as without_customer
from {{ lead_customers }} as lead_customers
where not exists (
    select from {{ customer_ids }} as known_customers
    where known_customers.id = lead_customers.customer_id
)
{%- endmacro %}

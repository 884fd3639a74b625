{#- The facts the FOREIGN KEY leads_master.customer_id -> customers.id and NOT NULL on
    customer_id depend on, defined once: the readiness facts (readiness_failing_leads) keep them
    per CRM lead, and publish renders this file with jinja2 (no dbt context: plain Jinja only, no
    ref/adapter/var) to count them on the live tables before adding the constraints and on the
    state its plan predicts. A lead without a customer_id matches no id either, so one anti-join
    finds both kinds; `not exists`, not a join, so that a duplicated id cannot change them. -#}
{% macro lead_customer_violation_rows(lead_customers, customer_ids) -%}
select
    lead_customers.*,
    lead_customers.customer_id is null as is_without_customer
from {{ lead_customers }} as lead_customers
where not exists (
    select from {{ customer_ids }} as known_customers
    where known_customers.id = lead_customers.customer_id
)
{%- endmacro %}


{#- The two counts of lead_customer_violation_rows: leads on a missing customer, leads without
    one. -#}
{% macro lead_customer_violations(lead_customers, customer_ids) -%}
select
    count(*) filter (where not violations.is_without_customer) as missing_customer,
    count(*) filter (where violations.is_without_customer) as without_customer
from (
    {{ lead_customer_violation_rows(lead_customers, customer_ids) }}
) as violations
{%- endmacro %}

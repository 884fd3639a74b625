{#- The phone `leadlink publish` writes to a CRM customer: the mart's E.164, unless another CRM
    customer holds that exact string (customers.phone_number_normalized is unique), and then the
    phone stays as it is. Defined once: publish_customers_baseline keeps only the customers
    publish would change with it, and publish renders this file with jinja2 (no dbt context:
    plain Jinja only) for the update it writes (work_customer_updates.sql). -#}
{% macro publishable_phone(mart_phone, current_phone, holder_id) -%}
case when {{ holder_id }} is null then {{ mart_phone }} else {{ current_phone }} end
{%- endmacro %}

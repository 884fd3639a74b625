{#- A readiness fact from readiness_checks: the failing rows of one check. Configure it with
    `fail_calc: sum(failing_rows)` so dbt reports how many CRM rows still fail, not how many
    checks. -#}
{% test readiness_check_ready(model, check_name) %}
    select
        check_name,
        failing_rows
    from {{ model }}
    where
        check_name = '{{ check_name }}'
        and failing_rows > 0
{% endtest %}

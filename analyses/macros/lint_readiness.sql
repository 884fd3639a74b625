-- Renders the macro of macros/readiness/ never run (see the .sqlfluff here).
{{ leadlink.lead_customer_violations('lint_leads', 'lint_customer_ids') }}

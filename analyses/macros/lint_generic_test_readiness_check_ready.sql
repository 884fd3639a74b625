-- Renders a generic test of macros/generic_tests/ never run (see the .sqlfluff here).
{{ leadlink.test_readiness_check_ready(model='lint_model', check_name='customer_id_not_null') }}

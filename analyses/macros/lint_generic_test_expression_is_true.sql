-- Renders a generic test of macros/generic_tests/; never run (see the .sqlfluff here). The test
-- returns the failing rows whole (AM04).
-- noqa: disable=AM04
{{ leadlink.test_expression_is_true(model='lint_model', expression='row_count >= 0') }}

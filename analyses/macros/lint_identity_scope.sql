-- Renders the identity scope macros of macros/incremental.sql; never run (see the .sqlfluff
-- here). identity_replace_scope renders nothing outside an incremental run; data_test_scope
-- (through get_where_subquery) adds nothing outside a data test. identity_rebuilt_rows gives
-- one-line conditions (they end up in hooks and tests' subqueries): layout of set operators and
-- where is not theirs to keep.
{{ leadlink.identity_replace_scope('touch_id is not null') }}
select touch.touch_id
from {{ get_where_subquery('lint_touches') }} as touch
where
    touch.touch_id in {{ leadlink.identity_changed('touch') }}
    or touch.customer_id in {{ leadlink.identity_changed('crm_customer', 'bigint') }}
    or touch.person_e164 in {{ leadlink.identity_people() }}
    or touch.lead_id in {{ leadlink.identity_leads() }}
    or {{ leadlink.identity_rebuilt_rows('int_touches_assigned', 'lint') }}  -- noqa: LT11, LT14
    or {{ leadlink.identity_rebuilt_rows('leads', 'lint_touches') }}  -- noqa: LT11, LT14
    or {{ leadlink.identity_rebuilt_rows('lead_touches', 'lint_touches') }}  -- noqa: LT11, LT14
    or {{ leadlink.identity_rebuilt_rows('customer_merges', 'lint_touches') }}  -- noqa: LT11, LT14

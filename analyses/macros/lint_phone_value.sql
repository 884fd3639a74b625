-- Renders the one-value phone macros of macros/phone/normalize_phone.sql; never run (see the
-- .sqlfluff here). The full parse's steps are fenced by `limit all offset 0` on purpose (AM09,
-- docs/phone-normalisation.md); the default region renders as a literal (ST10: 'IN' = 'IN',
-- which the planner folds away).
-- noqa: disable=ST10, AM09
select
    lint_input.raw_value,
    {{ leadlink.default__normalize_phone('lint_input.raw_value') }} as phone_e164,
    {{ leadlink.default__phone_unusable_reason('lint_input.raw_value', 'lint_input.region_code') }}
        as unusable_reason
from lint_input

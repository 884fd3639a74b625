-- Renders the identity scope macros of macros/incremental.sql; never run (see the .sqlfluff
-- here). identity_replace_scope renders nothing outside an incremental run.
{{ leadlink.identity_replace_scope('touch_id is not null') }}
select touch.touch_id
from lint_touches as touch
where
    touch.touch_id in {{ leadlink.identity_changed('touch') }}
    or touch.customer_id in {{ leadlink.identity_changed('crm_customer', 'bigint') }}
    or touch.person_e164 in {{ leadlink.identity_people() }}
    or touch.lead_id in {{ leadlink.identity_leads() }}

-- Renders the macros of macros/identity.sql never run (see the .sqlfluff here).
select
    {{ leadlink.default__stable_customer_id('phone_number.phone_e164') }} as customer_id,
    {{ leadlink.default__touch_key('touch.channel', 'touch.external_id') }} as touch_id,
    {{ leadlink.person_e164('phone_number') }} as person_e164,
    {{ leadlink.person_unusable_reason('phone_number') }} as unusable_reason
from lint_touches as touch
left join lint_phone_numbers as phone_number
    on touch.phone_raw = phone_number.phone_raw

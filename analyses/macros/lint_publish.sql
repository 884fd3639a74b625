-- Renders the macro of macros/publish/; never run (see the .sqlfluff here).
select {{ leadlink.publishable_phone('lint.phone_e164', 'lint.phone_raw', 'lint.holder_id') }}
from lint

-- Renders the overridden built-in generic tests of macros/generic_tests/ and the engines' catalog
-- checks; never run (see the .sqlfluff here).
select
    duplicates.unique_field as customer_id,
    duplicates.n_records
from (
    {{ default__test_unique(model=ref('customers'), column_name='customer_id') }}
) as duplicates
union all
select
    null_rows.customer_id,
    0 as n_records
from (
    {{ default__test_not_null(model=ref('customers'), column_name='customer_id') }}
) as null_rows
where
    {{ leadlink.default__unique_index_holds(ref('customers'), 'customer_id') }}
    or {{ leadlink.default__not_null_constraint_holds(ref('customers'), 'customer_id') }}
    or {{ leadlink.postgres__unique_index_holds(ref('customers'), 'customer_id') }}
    or {{ leadlink.postgres__not_null_constraint_holds(ref('customers'), 'customer_id') }}

-- One select over its source as a subquery, not import CTEs: PostgreSQL never flattens a view
-- whose query has a WITH list, so a caller's lookup by key (a join on the id) would scan the
-- whole CRM table instead of using its primary key.
select
    id as customer_id,
    phone_number_normalized as phone_number_raw,
    nullif(trim(full_name), '') as full_name,
    nullif(lower(trim(email)), '') as email,
    nullif(trim(city), '') as city,
    created_at,
    updated_at,
    merged_into_customer_id,
    -- written since a run's horizon? (macros/crm_writes.sql)
    row_version_age
from (
    -- the columns read, by name: the view then depends on these only (see crm_source_columns)
    select
        {{ crm_source_columns('customers', ['id', 'phone_number_normalized'],
            {'full_name': 'text', 'email': 'text', 'city': 'text',
            'created_at': 'timestamptz', 'updated_at': 'timestamptz'},
            {'merged_into_customer_id': 'bigint'}) }},
        {{ row_version_age() }} as row_version_age
    from {{ source('crm', 'customers') }}
) as source  -- noqa: ST05

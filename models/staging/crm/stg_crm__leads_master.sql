-- One select over its source as a subquery, not import CTEs: PostgreSQL never flattens a view
-- whose query has a WITH list, so a caller's lookup by key (a join on the id) would scan the
-- whole CRM table instead of using its primary key.
select
    id as lead_id,

    ---------- person, as the CRM stored it (two normalisers wrote these)
    nullif(trim(full_name), '') as full_name,
    phone_number_normalized as phone_number_raw,
    alternate_phone_number as alternate_phone_raw,

    ---------- lead
    source_id,
    nullif(trim(external_lead_id), '') as external_lead_id,
    status,
    status in ('Lost', 'Unqualified') as is_closed,
    assigned_to as assigned_to_user_id,
    branch_id,
    customer_id,
    raw_payload,

    ---------- timestamps
    created_at,
    updated_at,

    ---------- row version: written since a run's horizon? (macros/crm_writes.sql)
    row_version_age
from (
    -- the columns read, by name: the view then depends on these only (see crm_source_columns)
    select
        {{ crm_source_columns('leads_master',
            ['id', 'phone_number_normalized', 'source_id', 'status', 'customer_id', 'created_at'],
            {'full_name': 'text', 'alternate_phone_number': 'text',
            'external_lead_id': 'text', 'assigned_to': 'bigint', 'branch_id': 'bigint',
            'raw_payload': 'jsonb', 'updated_at': 'timestamptz'}) }},
        {{ row_version_age() }} as row_version_age
    from {{ source('crm', 'leads_master') }}
) as source  -- noqa: ST05

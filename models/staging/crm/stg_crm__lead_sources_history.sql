-- One select over its source as a subquery, not import CTEs: PostgreSQL never flattens a view
-- whose query has a WITH list, so a caller's lookup by key (a join on the id) would scan the
-- whole CRM table instead of using its primary key.
select
    lead_id,
    source_id,
    nullif(trim(external_id), '') as external_id,
    raw_payload,
    received_at,
    is_primary
from (
    -- the columns read, by name: the view then depends on these only (see crm_source_columns)
    select
        {{ crm_source_columns('lead_sources_history', ['lead_id', 'source_id', 'received_at'],
            {'external_id': 'text', 'raw_payload': 'jsonb', 'is_primary': 'boolean'}) }}
    from {{ source('crm', 'lead_sources_history') }}
) as source  -- noqa: ST05

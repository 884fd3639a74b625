-- One select over its source as a subquery, not import CTEs: PostgreSQL never flattens a view
-- whose query has a WITH list, so a caller's lookup by key (a join on the id) would scan the
-- whole CRM table instead of using its primary key.
select
    id as source_id,
    display_name,
    source_type,
    -- the intake channel leadlink knows the source's records by (raw tables, touch ids)
    case source_type
        when 'knowlarity_call' then 'knowlarity'
        when 'meta_form' then 'meta'
        else coalesce(nullif(trim(source_type), ''), 'crm')
    end as channel,
    total_leads_count,
    todays_leads_count
from (
    -- the columns read, by name: the view then depends on these only (see crm_source_columns)
    select
        {{ crm_source_columns('sources', ['id', 'source_type'],
            {'display_name': 'text', 'total_leads_count': 'integer',
            'todays_leads_count': 'integer'}) }}
    from {{ source('crm', 'sources') }}
) as source  -- noqa: ST05

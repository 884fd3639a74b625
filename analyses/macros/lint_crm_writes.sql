-- Renders the CRM write macros of macros/crm_writes.sql and the scopes built on them
-- (macros/identity.sql); never run (see the .sqlfluff here).
select
    lint_crm_leads.lead_id,
    {{ leadlink.default__crm_write_horizon() }} as default_horizon,
    {{ leadlink.postgres__crm_write_horizon() }} as postgres_horizon,
    {{ leadlink.default__row_version_age() }} as default_age,
    {{ leadlink.postgres__row_version_age() }} as postgres_age
from lint_crm_leads
where
    {{ leadlink.default__crm_row_written_since('lint_crm_leads.row_version_age', 42) }}
    or {{ leadlink.postgres__crm_row_written_since('lint_crm_leads.row_version_age', 42) }}
    or lint_crm_leads.lead_id in {{ leadlink.crm_written('leads_master') }}
    or lint_crm_leads.lead_id in {{ leadlink.customer_id_changes_scope() }}
    or lint_crm_leads.lead_id in {{ leadlink.readiness_leads_scope() }}
    or lint_crm_leads.customer_id in {{ leadlink.customers_baseline_scope() }}
    or lint_crm_leads.customer_id in {{ leadlink.customer_merges_touched_by_writes() }}
    or lint_crm_leads.lead_id in ({{ leadlink.postgres__array_overlap_rows(
        'lint_crm_leads', 'lead_id', 'lead_ids', '(select 1)'
    ) }})
    or lint_crm_leads.lead_id in ({{ leadlink.default__array_overlap_rows(
        'lint_crm_leads', 'lead_id', 'lead_ids', '(select 1)'
    ) }})
    or {{ leadlink.write_horizon_comparable('lint_crm_leads.lead_id', 42) }}

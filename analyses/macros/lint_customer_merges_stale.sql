-- Renders customer_merges_stale, unlinkable_leads_stale and customers_baseline_stale, the
-- conditions of three pre-hooks, which qualify the model's columns with its own name (here the
-- analysis'); never run (see the .sqlfluff here).
select lint_customer_merges_stale.merged_customer_id
from lint_customer_merges_stale
where {{ leadlink.customer_merges_stale() }}
union all
select lint_customer_merges_stale.merged_customer_id
from lint_customer_merges_stale
where {{ leadlink.unlinkable_leads_stale() }}
union all
select lint_customer_merges_stale.customer_id
from lint_customer_merges_stale
where {{ leadlink.customers_baseline_stale() }}

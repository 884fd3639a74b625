-- Renders customer_merges_stale, the condition of customer_merges' pre-hook, which qualifies the
-- model's columns with its own name (here the analysis'); never run (see the .sqlfluff here).
select lint_customer_merges_stale.merged_customer_id
from lint_customer_merges_stale
where {{ leadlink.customer_merges_stale() }}

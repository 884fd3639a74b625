update {crm}.sources as sources
set
    total_leads_count = changes.old_total_leads_count,
    todays_leads_count = changes.old_todays_leads_count
from {pub}.source_counter_changes as changes
where
    changes.batch_id = %(batch_id)s
    and sources.id = changes.source_id
    and (sources.total_leads_count, sources.todays_leads_count)
    is not distinct from (changes.new_total_leads_count, changes.new_todays_leads_count)

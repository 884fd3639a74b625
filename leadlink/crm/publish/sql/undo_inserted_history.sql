delete from {crm}.lead_sources_history as history
using {pub}.inserted_history as inserted
where
    inserted.batch_id = %(batch_id)s
    and history.lead_id = inserted.lead_id
    and history.external_id = inserted.external_id
    and history.source_id is not distinct from inserted.source_id

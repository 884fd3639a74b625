with inserted as (
    insert into {crm}.lead_sources_history as history (
        lead_id, source_id, external_id, raw_payload, received_at, is_primary
    )
    select
        pending.lead_id,
        pending.source_id,
        pending.external_id,
        pending.raw_payload,
        pending.received_at,
        false
    from {w_history} as pending
    where
        pending.seq > %(low)s
        and pending.seq <= %(high)s
        and pending.lead_id is not null
        and not exists (
            select from {crm}.lead_sources_history as taken
            where taken.lead_id = pending.lead_id and taken.external_id = pending.external_id
        )
    returning history.lead_id, history.source_id, history.external_id
)

insert into {pub}.inserted_history (batch_id, lead_id, source_id, external_id)
select
    %(batch_id)s,
    inserted.lead_id,
    inserted.source_id,
    inserted.external_id
from inserted

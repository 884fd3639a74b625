-- sources rows whose counters a recount would change, as leads_master stands now (the apply
-- recounts after its inserts and archive, so it may change more).
with per_source as (
    select
        crm_leads.source_id,
        count(*) as total,
        -- the day's start as a scalar subquery: computed once, not for every lead
        count(*) filter (
            where crm_leads.created_at >= (
                select
                    date_trunc('day', now() at time zone 'Asia/Kolkata')
                    at time zone 'Asia/Kolkata'
            )
        ) as today
    from {crm}.leads_master as crm_leads
    group by crm_leads.source_id
)

select count(*) as sources_to_recount
from {crm}.sources as sources
left join per_source
    on sources.id = per_source.source_id
where
    (sources.total_leads_count, sources.todays_leads_count)
    is distinct from (coalesce(per_source.total, 0), coalesce(per_source.today, 0))

-- The sources counters recounted from leads_master in one statement; "today" is cut in India
-- time, the dealers' day. Only rows whose counts differ are written.
with

per_source as (
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
),

counted as (
    select
        sources.id,
        coalesce(per_source.total, 0)::integer as total,
        coalesce(per_source.today, 0)::integer as today
    from {crm}.sources as sources
    left join per_source
        on sources.id = per_source.source_id
),

before_rows as (
    select
        sources.id,
        sources.total_leads_count,
        sources.todays_leads_count
    from {crm}.sources as sources
    inner join counted
        on sources.id = counted.id
    where
        (sources.total_leads_count, sources.todays_leads_count)
        is distinct from (counted.total, counted.today)
    for update of sources
),

updated as (
    update {crm}.sources as sources
    set total_leads_count = counted.total, todays_leads_count = counted.today
    from before_rows
    inner join counted
        on before_rows.id = counted.id
    where sources.id = before_rows.id
    returning
        sources.id,
        before_rows.total_leads_count as old_total,
        before_rows.todays_leads_count as old_today,
        sources.total_leads_count as new_total,
        sources.todays_leads_count as new_today
)

insert into {pub}.source_counter_changes (
    batch_id,
    source_id,
    old_total_leads_count,
    old_todays_leads_count,
    new_total_leads_count,
    new_todays_leads_count
)
select
    %(batch_id)s,
    updated.id,
    updated.old_total,
    updated.old_today,
    updated.new_total,
    updated.new_today
from updated

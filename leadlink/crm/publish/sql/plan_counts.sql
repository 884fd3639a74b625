-- What an apply would change, counted from the work tables.
select
    (select count(*) from {w_customer_inserts}) as customer_inserts,
    (
        select count(*)
        from {pub_customer_targets} as targets
        where not targets.in_crm and targets.target_id <> targets.customer_id
    ) as matched_by_phone,
    (
        select count(*) from {w_customer_updates} as updates
        where updates.cas_ok
    ) as customer_updates,
    (
        select count(*) from {w_customer_updates} as updates
        where not updates.cas_ok
    ) as customer_conflicts,
    (select count(*) from {w_merges}) as merge_count,
    (
        select count(*) from {w_lead_links} as links
        where links.cas_ok and links.current_customer_id is null
    ) as links_set,
    (
        select count(*) from {w_lead_links} as links
        where links.cas_ok and links.current_customer_id is not null
    ) as links_changed,
    (
        select count(*) from {w_lead_links} as links
        where not links.cas_ok
    ) as link_conflicts,
    (select count(*) from {w_repoint}) as repoint,
    (select count(*) from {w_history}) as history_rows,
    (select count(*) from {w_archive}) as archivable,
    (select count(*) from {pub_unlinkable}) as unlinkable

-- What undo could not put back because the app changed or started to use it after the apply.
select
    (
        select count(*)
        from {pub}.lead_customer_changes as changes
        inner join {crm}.leads_master as crm_leads
            on changes.lead_id = crm_leads.id
        where
            changes.batch_id = %(batch_id)s
            and crm_leads.customer_id is distinct from changes.old_customer_id
    ) as leads_edited,
    (
        select count(*)
        from {pub}.customer_changes as changes
        inner join {crm}.customers as crm_customers
            on changes.customer_id = crm_customers.id
        where changes.batch_id = %(batch_id)s and changes.action = 'insert'
    ) as customers_referenced,
    (
        select count(*)
        from {pub}.inserted_leads as inserted
        inner join {crm}.leads_master as crm_leads
            on inserted.lead_id = crm_leads.id
        where inserted.batch_id = %(batch_id)s
    ) as leads_referenced

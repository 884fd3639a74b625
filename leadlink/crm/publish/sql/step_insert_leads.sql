with inserted as (
    insert into {crm}.leads_master as crm_leads (
        full_name,
        phone_number_normalized,
        source_id,
        external_lead_id,
        status,
        raw_payload,
        branch_id,
        customer_id,
        created_at,
        updated_at
    )
    select
        new_leads.full_name,
        new_leads.phone_e164,
        new_leads.source_id,
        new_leads.external_lead_id,
        new_leads.status,
        new_leads.raw_payload,
        new_leads.branch_id,
        new_leads.customer_id,
        coalesce(new_leads.created_at, now()),
        now()
    from {w_new_leads} as new_leads
    where
        new_leads.seq > %(low)s
        and new_leads.seq <= %(high)s
        and not exists (
            select from {crm}.leads_master as taken
            where taken.external_lead_id = new_leads.external_lead_id
        )
    order by new_leads.seq asc
    returning crm_leads.id, crm_leads.external_lead_id
)

insert into {pub}.inserted_leads (batch_id, lead_id, external_lead_id)
select
    %(batch_id)s,
    inserted.id,
    inserted.external_lead_id
from inserted

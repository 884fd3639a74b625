select crm_customers.id from {crm}.customers as crm_customers
union all
select inserts.customer_id as id from {w_customer_inserts} as inserts

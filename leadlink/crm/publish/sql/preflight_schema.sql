-- Where publish keeps its audit and scratch tables: can this role create and write them?
select
    current_user as role_name,
    current_database() as database_name,
    to_regnamespace(%(publish_schema)s) is not null as schema_exists,
    case
        when to_regnamespace(%(publish_schema)s) is not null
            then has_schema_privilege(%(publish_schema)s, 'create')
        else has_database_privilege(current_database(), 'create')
    end as can_create,
    coalesce(
        to_regclass(%(batches)s) is null
        or (
            has_table_privilege(%(batches)s, 'insert')
            and has_table_privilege(%(batches)s, 'update')
        ),
        false
    ) as can_write_audit,
    to_regnamespace(%(crm_schema)s) is not null
    and has_schema_privilege(%(crm_schema)s, 'usage') as can_use_crm_schema

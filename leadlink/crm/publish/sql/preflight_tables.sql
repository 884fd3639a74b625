-- What the current role may do on each CRM table publish touches: privileges, whether row-level
-- security applies to it, and which commands a permissive policy for it allows.
with

me as (
    select
        role_rows.rolname,
        role_rows.rolsuper,
        role_rows.rolbypassrls
    from pg_roles as role_rows
    where role_rows.rolname = current_user
),

crm_tables as (
    select
        relations.oid,
        relations.relname,
        relations.relowner,
        relations.relrowsecurity,
        relations.relforcerowsecurity
    from pg_class as relations
    inner join pg_namespace as namespaces
        on relations.relnamespace = namespaces.oid
    where namespaces.nspname = %(crm_schema)s and relations.relname = any(%(tables)s)
),

my_policies as (
    select
        policies.tablename,
        array_agg(distinct policies.cmd) as commands
    from pg_policies as policies
    where
        policies.schemaname = %(crm_schema)s
        and policies.permissive = 'PERMISSIVE'
        and (
            'public' = any(policies.roles)
            or exists (
                select from unnest(policies.roles) as granted_roles (granted_role)
                where
                    granted_roles.granted_role <> 'public'
                    and pg_has_role(current_user, granted_roles.granted_role, 'member')
            )
        )
    group by policies.tablename
)

select
    crm_tables.relname as table_name,
    pg_get_userbyid(crm_tables.relowner) as owner_name,
    me.rolsuper or pg_has_role(current_user, crm_tables.relowner, 'usage') as is_owner,
    has_table_privilege(crm_tables.oid, 'select') as can_select,
    has_table_privilege(crm_tables.oid, 'insert') as can_insert,
    has_table_privilege(crm_tables.oid, 'update') as can_update,
    has_table_privilege(crm_tables.oid, 'delete') as can_delete,
    has_table_privilege(crm_tables.oid, 'references') as can_references,
    crm_tables.relrowsecurity
    and not me.rolsuper
    and not me.rolbypassrls
    and (
        crm_tables.relforcerowsecurity
        or not pg_has_role(current_user, crm_tables.relowner, 'usage')
    )
        as under_rls,
    coalesce(my_policies.commands, array[]::text[]) as policy_commands,
    (
        select
            has_sequence_privilege(pg_get_serial_sequence(
                quote_ident(%(crm_schema)s) || '.' || quote_ident(crm_tables.relname),
                id_columns.attname
            ), 'usage')
        from pg_attribute as id_columns
        where
            id_columns.attrelid = crm_tables.oid
            and id_columns.attname = 'id'
            and pg_get_serial_sequence(
                quote_ident(%(crm_schema)s) || '.' || quote_ident(crm_tables.relname),
                id_columns.attname
            ) is not null
    ) as can_use_id_sequence
from crm_tables
cross join me
left join my_policies
    on crm_tables.relname = my_policies.tablename

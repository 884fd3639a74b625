-- Single-column foreign keys pointing at a table: (schema, table, column) of each referencing side.
select
    namespaces.nspname as schema_name,
    relations.relname as table_name,
    fk_columns.attname as column_name
from pg_constraint as fk_constraints
inner join pg_class as relations
    on fk_constraints.conrelid = relations.oid
inner join pg_namespace as namespaces
    on relations.relnamespace = namespaces.oid
inner join pg_attribute as fk_columns
    on
        fk_constraints.conrelid = fk_columns.attrelid
        and fk_constraints.conkey[1] = fk_columns.attnum
where
    fk_constraints.contype = 'f'
    and fk_constraints.confrelid = to_regclass(%(table)s)
    and cardinality(fk_constraints.conkey) = 1
order by namespaces.nspname, relations.relname, fk_columns.attname

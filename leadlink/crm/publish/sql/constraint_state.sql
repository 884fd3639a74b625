-- The foreign key leads_master.customer_id -> customers.id (if any), the not-null check publish
-- adds on the way to NOT NULL, and whether the column is NOT NULL already.
select
    (
        select fk_constraints.conname
        from pg_constraint as fk_constraints
        inner join pg_attribute as fk_columns
            on
                fk_constraints.conrelid = fk_columns.attrelid
                and fk_constraints.conkey[1] = fk_columns.attnum
        where
            fk_constraints.contype = 'f'
            and fk_constraints.conrelid = to_regclass(%(leads)s)
            and fk_constraints.confrelid = to_regclass(%(customers)s)
            and fk_columns.attname = 'customer_id'
            and cardinality(fk_constraints.conkey) = 1
        order by fk_constraints.convalidated desc, fk_constraints.conname asc
        limit 1
    ) as fk_name,
    coalesce((
        select bool_or(fk_constraints.convalidated)
        from pg_constraint as fk_constraints
        inner join pg_attribute as fk_columns
            on
                fk_constraints.conrelid = fk_columns.attrelid
                and fk_constraints.conkey[1] = fk_columns.attnum
        where
            fk_constraints.contype = 'f'
            and fk_constraints.conrelid = to_regclass(%(leads)s)
            and fk_constraints.confrelid = to_regclass(%(customers)s)
            and fk_columns.attname = 'customer_id'
            and cardinality(fk_constraints.conkey) = 1
    ), false) as fk_validated,
    (
        select check_constraints.convalidated
        from pg_constraint as check_constraints
        where
            check_constraints.conrelid = to_regclass(%(leads)s)
            and check_constraints.conname = %(check_name)s
            and check_constraints.contype = 'c'
    ) as check_validated,
    (
        select lead_columns.attnotnull
        from pg_attribute as lead_columns
        where
            lead_columns.attrelid = to_regclass(%(leads)s) and lead_columns.attname = 'customer_id'
    ) as not_null

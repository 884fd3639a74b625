"""Work tables (`w_*`, temp, in the CRM session): exactly what a step would change, computed from
the staged marts (`pub_*`) and the CRM's current rows. The plan counts them; the steps write them in
key ranges, re-checking every condition in the write itself (compare-and-set), because the app keeps
writing in between.

Compare-and-set: a customer row is updated only while it still holds what the build saw (the
`publish_customers_baseline` snapshot taken by dbt: phone, name, email, city, updated_at); a lead's
customer_id only while it still holds the baseline value. A row the app edited after the export is
a *conflict*: left alone, counted in the plan, and picked up by the next build + publish.
"""

from __future__ import annotations

import psycopg2.extensions

from leadlink.crm.publish.extract import SOURCE_TYPES
from leadlink.crm.publish.target import PublishTarget

# The CRM customer columns compared with the baseline, normalised as stg_crm__customers does.
CUSTOMER_NOW = ("(c.phone_number_normalized, nullif(trim(c.full_name), ''),"
                " nullif(lower(trim(c.email)), ''), nullif(trim(c.city), ''), c.updated_at)")
CUSTOMER_BASE = "(s.base_phone, s.base_full_name, s.base_email, s.base_city, s.base_updated_at)"

SOURCE_TYPE_CASE = "case {col} " + " ".join(
    f"when '{source}' then '{source_type}'" for source, source_type in SOURCE_TYPES.items()
) + " end"


def has_column(cursor: psycopg2.extensions.cursor, schema: str, table: str, column: str) -> bool:
    cursor.execute("select 1 from pg_attribute where attrelid = to_regclass(%s) and attname = %s"
                   " and not attisdropped", (f"{_q(schema)}.{_q(table)}", column))
    return cursor.fetchone() is not None


def _q(name: str) -> str:
    from leadlink.crm.publish.target import quote_ident

    return quote_ident(name)


def referenced_by(cursor: psycopg2.extensions.cursor, schema: str, table: str,
                  skip: tuple[str, ...] = ()) -> list[tuple[str, list[str]]]:
    """Foreign keys pointing at schema.table's id, as (qualified referencing table, columns)."""
    cursor.execute(
        """
        select format('%%I.%%I', nsp.nspname, rel.relname),
               array_agg(att.attname::text order by key.position)
        from pg_constraint as con
        inner join pg_class as rel on rel.oid = con.conrelid
        inner join pg_namespace as nsp on nsp.oid = rel.relnamespace
        cross join lateral unnest(con.conkey) with ordinality as key(attnum, position)
        inner join pg_attribute as att on att.attrelid = con.conrelid and att.attnum = key.attnum
        where con.contype = 'f' and con.confrelid = to_regclass(%s)
        group by con.oid, nsp.nspname, rel.relname
        """,
        (f"{_q(schema)}.{_q(table)}",))
    return [(name, columns) for name, columns in cursor.fetchall() if name not in skip]


def not_referenced(references: list[tuple[str, list[str]]], id_expression: str) -> str:
    """SQL conditions: no row of any referencing table points at id_expression."""
    parts = [f"not exists (select from {table} as ref where ref.{_q(columns[0])} = {id_expression})"
             for table, columns in references if len(columns) == 1]
    return " and ".join(parts) or "true"


def build_customer_targets(target: PublishTarget, cursor: psycopg2.extensions.cursor) -> None:
    """pub_customer_targets: the CRM id each mart customer is published as (its own id; or, when the
    app created a row with that phone after the build, that row's id)."""
    cursor.execute("drop table if exists pub_customer_targets")
    cursor.execute(target.sql("""
        create temp table pub_customer_targets as
        select
            s.customer_id,
            by_id.id is not null as in_crm,
            coalesce(by_id.id, by_phone.id, s.customer_id) as target_id
        from pub_customers as s
        left join {crm}.customers as by_id on by_id.id = s.customer_id
        left join {crm}.customers as by_phone on by_phone.phone_number_normalized = s.phone_e164
    """))
    cursor.execute("create index on pub_customer_targets (customer_id)")
    cursor.execute("analyze pub_customer_targets")


def build_customer_work(target: PublishTarget, cursor: psycopg2.extensions.cursor,
                        merged_column: bool) -> None:
    build_customer_targets(target, cursor)
    cursor.execute("drop table if exists w_customer_inserts, w_customer_updates, w_merges")
    cursor.execute("""
        create temp table w_customer_inserts as
        select s.customer_id, s.phone_e164, s.full_name, s.email, s.city, s.first_seen_at
        from pub_customers as s
        inner join pub_customer_targets as t on t.customer_id = s.customer_id
        where not t.in_crm and t.target_id = s.customer_id
    """)
    cursor.execute(target.sql(f"""
        create temp table w_customer_updates as
        select
            s.customer_id,
            case when other.id is null then s.phone_e164 else c.phone_number_normalized end
                as new_phone,
            coalesce(s.full_name, c.full_name) as new_full_name,
            coalesce(s.email, c.email) as new_email,
            coalesce(s.city, c.city) as new_city,
            s.base_phone, s.base_full_name, s.base_email, s.base_city, s.base_updated_at,
            s.in_baseline and {CUSTOMER_NOW} is not distinct from {CUSTOMER_BASE} as cas_ok
        from pub_customers as s
        inner join {{crm}}.customers as c on c.id = s.customer_id
        left join {{crm}}.customers as other
            on other.phone_number_normalized = s.phone_e164 and other.id <> s.customer_id
        where (case when other.id is null then s.phone_e164 else c.phone_number_normalized end,
               coalesce(s.full_name, c.full_name), coalesce(s.email, c.email),
               coalesce(s.city, c.city))
            is distinct from (c.phone_number_normalized, c.full_name, c.email, c.city)
    """))
    marked = "c.merged_into_customer_id" if merged_column else "null::bigint"
    cursor.execute(target.sql(f"""
        create temp table w_merges as
        select m.merged_customer_id, m.surviving_customer_id
        from pub_merges as m
        inner join {{crm}}.customers as c on c.id = m.merged_customer_id
        where {marked} is distinct from m.surviving_customer_id
    """))
    for table, key in (("w_customer_inserts", "customer_id"),
                       ("w_customer_updates", "customer_id"), ("w_merges", "merged_customer_id")):
        cursor.execute(f"create index on {table} ({key})")
        cursor.execute(f"analyze {table}")


def build_lead_work(target: PublishTarget, cursor: psycopg2.extensions.cursor) -> None:
    """w_lead_links: legacy leads whose customer_id differs from the published one;
    w_repoint: other leads (e.g. created by the app after the build) pointing at a merged customer."""
    cursor.execute("drop table if exists w_lead_links, w_repoint")
    cursor.execute(target.sql("""
        create temp table w_lead_links as
        select
            l.lead_id,
            lm.customer_id as current_customer_id,
            l.base_customer_id,
            t.target_id as new_customer_id,
            l.in_baseline and lm.customer_id is not distinct from l.base_customer_id as cas_ok
        from pub_lead_links as l
        inner join pub_customer_targets as t on t.customer_id = l.customer_id
        inner join {crm}.leads_master as lm on lm.id = l.lead_id
        where lm.customer_id is distinct from t.target_id
    """))
    cursor.execute(target.sql("""
        create temp table w_repoint as
        select lm.id as lead_id, lm.customer_id as current_customer_id,
               m.surviving_customer_id as new_customer_id
        from {crm}.leads_master as lm
        inner join pub_merges as m on m.merged_customer_id = lm.customer_id
        where not exists (select from pub_lead_links as l where l.lead_id = lm.id)
    """))
    for table in ("w_lead_links", "w_repoint"):
        cursor.execute(f"create index on {table} (lead_id)")
        cursor.execute(f"analyze {table}")


def build_new_lead_work(target: PublishTarget, cursor: psycopg2.extensions.cursor) -> None:
    """w_new_leads: mart leads from Knowlarity/Meta (case A) the CRM does not have yet, keyed on
    external_lead_id; w_history: cross-source touches (case C) without their history row yet
    (lead_id null = the lead is one of w_new_leads, resolved once it is inserted)."""
    cursor.execute("drop table if exists w_new_leads, w_history")
    cursor.execute(target.sql(f"""
        create temp table w_new_leads as
        select distinct on (n.external_lead_id)
            n.external_lead_id, n.source, src.id as source_id, t.target_id as customer_id,
            n.full_name, n.phone_e164, n.status, n.branch_id, n.created_at, n.raw_payload
        from pub_new_leads as n
        inner join pub_customer_targets as t on t.customer_id = n.customer_id
        left join lateral (
            select sources.id from {{crm}}.sources as sources
            where sources.source_type = {SOURCE_TYPE_CASE.format(col='n.source')}
            order by sources.id limit 1
        ) as src on true
        where not exists (
            select from {{crm}}.leads_master as lm where lm.external_lead_id = n.external_lead_id
        )
        order by n.external_lead_id, n.created_at
    """))
    cursor.execute("alter table w_new_leads add column seq bigserial")
    cursor.execute(target.sql(f"""
        create temp table w_history as
        with crm_by_external as (
            select lm.external_lead_id, min(lm.id) as lead_id
            from {{crm}}.leads_master as lm
            where lm.external_lead_id in (
                select h.lead_external_id from pub_history as h
                union all
                select h.external_id from pub_history as h
            )
            group by lm.external_lead_id
        ),
        resolved as (
            select distinct on (coalesce(h.lead_legacy_id, own.lead_id), h.external_id,
                                h.lead_external_id)
                coalesce(h.lead_legacy_id, own.lead_id) as lead_id,
                h.lead_external_id,
                src.id as source_id,
                h.external_id,
                h.raw_payload,
                h.received_at
            from pub_history as h
            left join crm_by_external as own on own.external_lead_id = h.lead_external_id
            left join lateral (
                select sources.id from {{crm}}.sources as sources
                where sources.source_type = {SOURCE_TYPE_CASE.format(col='h.source')}
                order by sources.id limit 1
            ) as src on true
            where not exists (
                select from crm_by_external as taken where taken.external_lead_id = h.external_id
            )
            order by coalesce(h.lead_legacy_id, own.lead_id), h.external_id,
                h.lead_external_id, h.received_at
        )
        select resolved.*
        from resolved
        where not exists (
            select from {{crm}}.lead_sources_history as history
            where history.lead_id = resolved.lead_id
                and history.external_id = resolved.external_id
        )
            and (resolved.lead_id is not null
                 or resolved.lead_external_id in (select external_lead_id from w_new_leads))
    """))
    cursor.execute("alter table w_history add column seq bigserial")
    for table in ("w_new_leads", "w_history"):
        cursor.execute(f"create index on {table} (seq)")
        cursor.execute(f"analyze {table}")


def build_archive_work(target: PublishTarget, cursor: psycopg2.extensions.cursor) -> list[str]:
    """w_archive: unlinkable legacy leads still without customer_id that nothing but
    lead_sources_history references (those history rows move with them). Returns the referencing
    tables that keep some leads in place."""
    history = f"{_q(target.crm_schema)}.lead_sources_history"
    others = referenced_by(cursor, target.crm_schema, "leads_master", skip=(history,))
    cursor.execute("drop table if exists w_archive")
    cursor.execute(target.sql(f"""
        create temp table w_archive as
        select lm.id as lead_id, u.reason
        from {{crm}}.leads_master as lm
        inner join pub_unlinkable as u on u.lead_id = lm.id
        where lm.customer_id is null and {not_referenced(others, 'lm.id')}
    """))
    cursor.execute("create index on w_archive (lead_id)")
    cursor.execute("analyze w_archive")
    return [table for table, _ in others]

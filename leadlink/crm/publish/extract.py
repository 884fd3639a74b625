"""The mart rows publish needs, staged as temp tables (`pub_*`) in the CRM database's session.

The queries run where the marts are (leadlink's database). When the CRM tables live in the same
database the rows are copied with one `insert ... select` each; when LEADLINK_CRM_DATABASE_URL
names another database they stream across with COPY (through a spooled temp file), so everything
after this module is set-based SQL inside the CRM's database either way.

This is the only module that knows the marts' column names (issue 5's `customers`, `leads`,
`lead_touches`, `unlinkable_leads`, `customer_merges`) and our own `publish_*_baseline` snapshots.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass

import psycopg2.extensions

from leadlink.crm.publish.target import PublishTarget

log = logging.getLogger("leadlink.publish.extract")

# mart `source` value -> the CRM's sources.source_type
SOURCE_TYPES = {"knowlarity": "knowlarity_call", "meta": "meta_form"}


@dataclass(frozen=True)
class Staged:
    name: str
    columns: tuple[tuple[str, str], ...]
    query: str
    index: tuple[str, ...] = ()


_LATEST_PAYLOADS = """
    select distinct on (call_uuid)
        'knowlarity' as source, call_uuid as external_id, payload
    from {raw}.knowlarity_calls
    order by call_uuid, raw_id desc
"""
_LATEST_META_PAYLOADS = """
    select distinct on (lead_id)
        'meta' as source, lead_id as external_id, payload
    from {raw}.meta_leads
    order by lead_id, raw_id desc
"""

STAGED: tuple[Staged, ...] = (
    Staged(
        "pub_customers",
        (("customer_id", "bigint"), ("phone_e164", "text"), ("full_name", "text"),
         ("email", "text"), ("city", "text"), ("first_seen_at", "timestamptz"),
         ("in_baseline", "boolean"), ("base_phone", "text"), ("base_full_name", "text"),
         ("base_email", "text"), ("base_city", "text"), ("base_updated_at", "timestamptz")),
        """
        select
            customers.customer_id, customers.phone_e164, customers.full_name, customers.email,
            customers.city, customers.first_seen_at,
            baseline.customer_id is not null, baseline.phone_number_raw, baseline.full_name,
            baseline.email, baseline.city, baseline.updated_at
        from {analytics}.customers as customers
        left join {analytics}.publish_customers_baseline as baseline
            on baseline.customer_id = customers.customer_id
        """,
        ("customer_id", "phone_e164"),
    ),
    Staged(
        "pub_merges",
        (("merged_customer_id", "bigint"), ("surviving_customer_id", "bigint")),
        """
        select distinct merged_customer_id, surviving_customer_id
        from {analytics}.customer_merges
        where merged_customer_id is distinct from surviving_customer_id
        """,
        ("merged_customer_id",),
    ),
    Staged(
        "pub_lead_links",
        (("lead_id", "bigint"), ("customer_id", "bigint"), ("in_baseline", "boolean"),
         ("base_customer_id", "bigint")),
        """
        select
            leads.legacy_lead_id, leads.customer_id, baseline.lead_id is not null,
            baseline.customer_id
        from {analytics}.leads as leads
        left join {analytics}.publish_leads_baseline as baseline
            on baseline.lead_id = leads.legacy_lead_id
        where leads.legacy_lead_id is not null and leads.customer_id is not null
        """,
        ("lead_id",),
    ),
    Staged(
        "pub_unlinkable",
        (("lead_id", "bigint"), ("reason", "text")),
        """
        select leads.legacy_lead_id, coalesce(min(unlinkable.reason), 'no usable phone')
        from {analytics}.leads as leads
        left join {analytics}.unlinkable_leads as unlinkable
            on unlinkable.lead_id = leads.lead_id
        where leads.legacy_lead_id is not null and leads.customer_id is null
        group by leads.legacy_lead_id
        """,
        ("lead_id",),
    ),
    Staged(
        "pub_new_leads",
        (("external_lead_id", "text"), ("source", "text"), ("customer_id", "bigint"),
         ("full_name", "text"), ("phone_e164", "text"), ("status", "text"),
         ("branch_id", "bigint"), ("created_at", "timestamptz"), ("raw_payload", "jsonb")),
        """
        select
            leads.external_lead_id, leads.source, leads.customer_id, customers.full_name,
            leads.phone_e164, leads.status, leads.branch_id, leads.created_at,
            payloads.payload
        from {analytics}.leads as leads
        inner join {analytics}.customers as customers
            on customers.customer_id = leads.customer_id
        left join ((""" + _LATEST_PAYLOADS + ") union all (" + _LATEST_META_PAYLOADS + """)
        ) as payloads
            on payloads.source = leads.source and payloads.external_id = leads.external_lead_id
        where leads.legacy_lead_id is null
            and leads.customer_id is not null
            and leads.external_lead_id is not null
            and leads.source in ('knowlarity', 'meta')
        """,
        ("external_lead_id",),
    ),
    Staged(
        "pub_history",
        (("lead_legacy_id", "bigint"), ("lead_external_id", "text"), ("source", "text"),
         ("external_id", "text"), ("received_at", "timestamptz"), ("raw_payload", "jsonb")),
        """
        select
            leads.legacy_lead_id, leads.external_lead_id, touches.source, touches.external_id,
            touches.touched_at, payloads.payload
        from {analytics}.lead_touches as touches
        inner join {analytics}.leads as leads
            on leads.lead_id = touches.lead_id
        left join ((""" + _LATEST_PAYLOADS + ") union all (" + _LATEST_META_PAYLOADS + """)
        ) as payloads
            on payloads.source = touches.source and payloads.external_id = touches.external_id
        where touches.touch_type = 'cross_source'
            and touches.source in ('knowlarity', 'meta')
            and touches.external_id is not null
            and leads.customer_id is not null
        """,
        ("external_id",),
    ),
)


def _create(cursor: psycopg2.extensions.cursor, staged: Staged) -> None:
    columns = ", ".join(f"{name} {kind}" for name, kind in staged.columns)
    cursor.execute(f"drop table if exists {staged.name}")
    cursor.execute(f"create temp table {staged.name} ({columns})")


def stage_marts(target: PublishTarget, crm: psycopg2.extensions.connection) -> dict[str, int]:
    """Create and fill the pub_* temp tables on the CRM connection; returns row counts."""
    counts: dict[str, int] = {}
    source_conn = target.connect_leadlink() if target.separate_database else None
    try:
        with crm.cursor() as cursor:
            for staged in STAGED:
                _create(cursor, staged)
                query = target.sql(staged.query)
                names = ", ".join(name for name, _ in staged.columns)
                if source_conn is None:
                    cursor.execute(f"insert into {staged.name} ({names}) {query}")
                else:
                    with tempfile.SpooledTemporaryFile(max_size=64 << 20, mode="w+b") as spool:
                        with source_conn.cursor() as source_cursor:
                            source_cursor.copy_expert(
                                f"copy ({query}) to stdout", spool)
                        spool.seek(0)
                        cursor.copy_expert(
                            f"copy {staged.name} ({names}) from stdin", spool)
                    source_conn.rollback()
                for column in staged.index:
                    cursor.execute(f"create index on {staged.name} ({column})")
                cursor.execute(f"analyze {staged.name}")
                cursor.execute(f"select count(*) from {staged.name}")
                counts[staged.name] = int(cursor.fetchone()[0])
        crm.commit()
    finally:
        if source_conn is not None:
            source_conn.close()
    log.info("staged mart rows: %s", counts)
    return counts

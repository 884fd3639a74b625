"""The mart rows publish needs, staged into the workspace (`pub_*`) in the CRM's database.

The queries (`sql/extract_*.sql`) run where the marts are (leadlink's database). When the CRM
tables live in the same database the rows are copied with one `insert ... select` each; when
LEADLINK_CRM_DATABASE_URL names another database they stream across with COPY (through a spooled
temp file), so everything after this module is set-based SQL inside the CRM's database.

Only what can still change something is staged: customers and legacy leads whose mart values
differ from the build's snapshot of the CRM (`publish_*_baseline`; a row equal to its snapshot
is either already right or edited by the app since, and then left alone anyway), and Knowlarity /
Meta leads and touches whose external id no earlier apply inserted (leadlink_publish keeps that
record). The cost of a publish follows what changed, not the size of the CRM.

This is the only module that knows the marts' column names.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg2.extensions
import psycopg2.extras
from psycopg2 import sql

from leadlink.crm.publish import queries
from leadlink.crm.publish.target import PUBLISH_SCHEMA, PublishTarget
from leadlink.crm.publish.workspace import Workspace

HORIZON_MACROS = Path("macros", "publish", "write_horizon.sql")

log = logging.getLogger("leadlink.publish.extract")


@dataclass(frozen=True)
class Staged:
    name: str
    query: str  # the file in sql/
    columns: tuple[tuple[str, str], ...]
    index: tuple[str, ...] = ()


STAGED: tuple[Staged, ...] = (
    Staged("pub_customers", "extract_customers",
           (("customer_id", "bigint"), ("phone_e164", "text"), ("full_name", "text"),
            ("email", "text"), ("city", "text"), ("first_seen_at", "timestamptz"),
            ("in_baseline", "boolean"), ("base_phone", "text"), ("base_full_name", "text"),
            ("base_email", "text"), ("base_city", "text"), ("base_updated_at", "timestamptz")),
           ("customer_id", "phone_e164")),
    Staged("pub_merges", "extract_merges",
           (("merged_customer_id", "bigint"), ("surviving_customer_id", "bigint")),
           ("merged_customer_id",)),
    Staged("pub_lead_links", "extract_lead_links",
           (("lead_id", "bigint"), ("customer_id", "bigint"), ("in_baseline", "boolean"),
            ("base_customer_id", "bigint")),
           ("lead_id",)),
    Staged("pub_unlinkable", "extract_unlinkable", (("lead_id", "bigint"), ("reason", "text")),
           ("lead_id",)),
    Staged("pub_new_leads", "extract_new_leads",
           (("external_lead_id", "text"), ("source", "text"), ("source_type", "text"),
            ("customer_id", "bigint"), ("full_name", "text"), ("phone_e164", "text"),
            ("status", "text"), ("branch_id", "bigint"), ("created_at", "timestamptz"),
            ("raw_payload", "jsonb")),
           ("external_lead_id",)),
    Staged("pub_history", "extract_history",
           (("lead_legacy_id", "bigint"), ("lead_external_id", "text"), ("source", "text"),
            ("source_type", "text"), ("external_id", "text"), ("received_at", "timestamptz"),
            ("raw_payload", "jsonb")),
           ("external_id",)),
)


def _published(target: PublishTarget, table: str, column: str) -> sql.Composable:
    """External ids earlier applies inserted (batches not undone). Read where the marts are, so
    only when the CRM is in leadlink's database; elsewhere the CRM-side not-exists checks alone
    keep publish exactly-once."""
    if target.separate_database:
        return sql.SQL("(select null::text as {} where false)").format(sql.Identifier(column))
    return sql.SQL(
        "(select published.{column} from {pub}.{table} as published"
        " inner join {pub}.batches as batches on batches.batch_id = published.batch_id"
        " where batches.status <> 'undone' and batches.crm_schema = {schema})"
    ).format(column=sql.Identifier(column), pub=sql.Identifier(PUBLISH_SCHEMA),
             table=sql.Identifier(table), schema=sql.Literal(target.crm_schema))


def stage_marts(target: PublishTarget, cursor: psycopg2.extensions.cursor,
                workspace: Workspace) -> dict[str, int]:
    """Create and fill the pub_* tables in the CRM's database (no commit); returns row counts."""
    parts = {**target.schemas(),
             "published_leads": _published(target, "inserted_leads", "external_lead_id"),
             "published_history": _published(target, "inserted_history", "external_id")}
    counts: dict[str, int] = {}
    source_conn = target.connect_leadlink() if target.separate_database else None
    try:
        for staged in STAGED:
            query = queries.statement(staged.query, parts)
            workspace.create_columns(cursor, staged.name, staged.columns)
            names = sql.SQL(", ").join(sql.Identifier(name) for name, _ in staged.columns)
            table = workspace.table(staged.name)
            if source_conn is None:
                cursor.execute(sql.SQL("insert into {} ({}) ").format(table, names) + query)
            else:
                with tempfile.SpooledTemporaryFile(max_size=64 << 20, mode="w+b") as spool:
                    with source_conn.cursor() as source_cursor:
                        source_cursor.copy_expert(
                            sql.SQL("copy ({}) to stdout").format(query), spool)
                    spool.seek(0)
                    cursor.copy_expert(
                        sql.SQL("copy {} ({}) from stdin").format(table, names), spool)
                source_conn.rollback()
            workspace.finish(cursor, staged.name, staged.index)
            counts[staged.name] = workspace.count(cursor, staged.name)
    finally:
        if source_conn is not None:
            source_conn.close()
    log.info("staged mart rows: %s", counts)
    return counts


def horizon_sql(target: PublishTarget, macro: str, **arguments: sql.Composable) -> sql.Composed:
    """A macro of the dbt macro file that defines PostgreSQL's write horizon (the builds use the
    same one)."""
    return queries.macro_statement(target.project_dir / HORIZON_MACROS, macro, **arguments)


def build_horizon(target: PublishTarget) -> int | None:
    """The write horizon of the build the marts come from (publish_crm_horizon): CRM rows stamped
    before it were read by a build. None (look at every row) when the CRM is in another database
    (its transaction ids are not leadlink's), the mart is missing or empty (a build from before
    it existed), or rows cannot be compared with it (write_horizon_comparable: a database
    restored from a dump into another cluster keeps the mart)."""
    if target.separate_database:
        return None
    conn = target.connect_leadlink()
    try:
        with conn.cursor() as cursor:
            cursor.execute("select to_regclass(%s) is not null", (sql.Identifier(
                target.analytics_schema, "publish_crm_horizon").as_string(cursor),))
            if not cursor.fetchone()[0]:
                return None
            cursor.execute(sql.SQL(
                "select built.horizon from (select max(crm_write_horizon) as horizon,"
                " {server_horizon} as server_horizon from {mart}) as built where {comparable}"
            ).format(
                server_horizon=horizon_sql(target, "postgres_write_horizon"),
                mart=sql.Identifier(target.analytics_schema, "publish_crm_horizon"),
                comparable=horizon_sql(target, "write_horizon_comparable",
                                       horizon=sql.SQL("built.horizon"),
                                       server_horizon=sql.SQL("built.server_horizon"))))
            row = cursor.fetchone()
        conn.rollback()
    finally:
        conn.close()
    return None if row is None else int(row[0])


def written_since(target: PublishTarget, horizon: int | None, alias: str) -> sql.Composable:
    """A condition on the CRM table aliased `alias`: the row was written at or after the build's
    horizon, or true when the horizon is unknown."""
    if horizon is None:
        return sql.SQL("true")
    return horizon_sql(target, "postgres_row_written_since",
                       age_expression=sql.SQL("age({}.xmin)").format(sql.Identifier(alias)),
                       horizon=sql.Literal(horizon))


def stage_phone_matches(target: PublishTarget, cursor: psycopg2.extensions.cursor,
                        workspace: Workspace) -> int:
    """pub_phone_matches: CRM customers whose stored phone, through the one normaliser, is the
    number of a mart customer about to be inserted (the app may have created that person after
    the build, in any writing). Only the customers written since the build's horizon can be one:
    the build read every other. The normaliser runs where leadlink installed it."""
    parts = {**target.schemas(), **workspace.parts(),
             "written_since_build": written_since(target, build_horizon(target),
                                                  "crm_customers")}
    cursor.execute(queries.statement("work_phone_candidates", parts))
    candidates = cursor.fetchall()
    workspace.create_columns(cursor, "pub_phone_matches",
                             (("customer_id", "bigint"), ("phone_e164", "text")))
    if candidates:
        matches = _normalise(target, candidates)
        psycopg2.extras.execute_values(
            cursor, sql.SQL("insert into {} (customer_id, phone_e164) values %s").format(
                workspace.table("pub_phone_matches")).as_string(cursor), matches)
    workspace.finish(cursor, "pub_phone_matches", ("phone_e164",))
    return len(candidates)


def _normalise(target: PublishTarget, rows: list[tuple[int, str]]) -> list[tuple[int, str]]:
    conn = target.connect_leadlink()
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql.SQL(
                "select input_position, phone_e164 from {}.parse_phones(%s)").format(
                sql.Identifier(target.function_schema)), ([phone for _, phone in rows],))
            parsed = dict(cursor.fetchall())
        conn.rollback()
    finally:
        conn.close()
    return [(customer_id, parsed[position]) for position, (customer_id, _) in
            enumerate(rows, start=1) if parsed.get(position)]

"""Execute an install plan on the CRM database.

1. preflight (leadlink.crm.functions.preflight): nothing is written unless the role can do it all;
2. one transaction: schema, the phone metadata (copies of the seed files), the functions, their
   privileges (EXECUTE only for the roles asked for; the index key function for PUBLIC);
3. the indexes on the CRM's tables, each CREATE INDEX CONCURRENTLY (no lock that stops the app's
   writes); an index whose key function or metadata changed since it was built is rebuilt with
   REINDEX CONCURRENTLY; one left invalid by an interrupted build is dropped and built again.

Every step is idempotent: running the install again replaces the functions and metadata and keeps
indexes that are current. No session state is left behind (transaction-scoped lock and settings),
so it works through a transaction pooler.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg2.extensions
from psycopg2 import sql

from leadlink.crm.functions import preflight
from leadlink.crm.functions.plan import CrmIndex, InstallPlan, SeedTable
from loaders.database import connect

log = logging.getLogger("leadlink.crm.install")

INSTALL_LOCK_KEY = 7_310_014  # one install at a time per CRM database (transaction-scoped)
STATE_TABLE = "crm_install"


@dataclass
class InstallReport:
    function_schema: str
    crm_schema: str
    phonenumbers_version: str
    functions: list[str]
    indexes: dict[str, str] = field(default_factory=dict)
    granted_to: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"function_schema": self.function_schema, "crm_schema": self.crm_schema,
                "phonenumbers_version": self.phonenumbers_version, "functions": self.functions,
                "indexes": self.indexes, "granted_to": self.granted_to}


def _revoke_everyone(cursor: psycopg2.extensions.cursor, kind: str, name: str) -> None:
    """Start a new object's privileges from nothing: PUBLIC and any role that default privileges
    (Supabase grants its API roles on new objects) gave it."""
    catalog = ("select acl.grantee from pg_proc as proc, aclexplode(proc.proacl) as acl"
               " where proc.oid = to_regprocedure(%s) and acl.grantee <> proc.proowner"
               if kind == "function" else
               "select acl.grantee from pg_class as relation, aclexplode(relation.relacl) as acl"
               " where relation.oid = to_regclass(%s) and acl.grantee <> relation.relowner")
    cursor.execute(catalog, (name,))
    grantees = {grantee for (grantee,) in cursor.fetchall() if grantee != 0}
    cursor.execute(f"revoke all on {kind} {name} from public")
    for grantee in grantees:
        cursor.execute("select quote_ident(rolname) from pg_roles where oid = %s", (grantee,))
        cursor.execute(f"revoke all on {kind} {name} from {cursor.fetchone()[0]}")


def _load_table(cursor: psycopg2.extensions.cursor, plan: InstallPlan, table: SeedTable) -> None:
    cursor.execute(f"drop table if exists {table.relation}")
    cursor.execute(table.ddl)
    path = plan.seed_file(table)
    with path.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
        handle.seek(0)
        columns = sql.SQL(", ").join(sql.Identifier(name) for name in header).as_string(cursor)
        cursor.copy_expert(f"copy {table.relation} ({columns}) from stdin"
                           " with (format csv, header true, encoding 'UTF8')", handle)
    for statement in table.index_ddl:
        cursor.execute(statement)
    cursor.execute(f"analyze {table.relation}")
    _revoke_everyone(cursor, "table", table.relation)


def _install_objects(conn: psycopg2.extensions.connection, plan: InstallPlan,
                     grant_to: Sequence[str]) -> None:
    schema = plan.function_schema
    with conn.cursor() as cursor:
        cursor.execute("select pg_advisory_xact_lock(%s)", (INSTALL_LOCK_KEY,))
        # the metadata tables are read by every insert into the CRM's tables (the indexes): wait
        # for them a little, never queue the app's writes behind us for long
        cursor.execute("select set_config('lock_timeout', '10s', true)")
        cursor.execute(f"create schema if not exists {schema}")
        existing = set()
        for signature in plan.all_functions:
            cursor.execute("select to_regprocedure(%s) is not null", (signature,))
            if cursor.fetchone()[0]:
                existing.add(signature)
        for table in plan.tables:
            _load_table(cursor, plan, table)
        cursor.execute(plan.index_key_function)
        for statement in plan.functions:
            cursor.execute(statement)
        for signature in plan.all_functions:
            if signature not in existing:
                _revoke_everyone(cursor, "function", signature)
        for signature in plan.public_functions:
            # every role that writes the CRM's tables evaluates it through the indexes
            cursor.execute(f"grant execute on function {signature} to public")
        for role in grant_to:
            grantee = sql.Identifier(role).as_string(cursor)
            cursor.execute(f"grant usage on schema {schema} to {grantee}")
            for signature in plan.app_functions:
                cursor.execute(f"grant execute on function {signature} to {grantee}")
        cursor.execute(f"create table if not exists {schema}.{STATE_TABLE} (key text primary key,"
                       " value text not null, updated_at timestamptz not null default now())")
        _revoke_everyone(cursor, "table", f"{schema}.{STATE_TABLE}")
        _set_state(cursor, schema, "phonenumbers_version", plan.phonenumbers_version)
    conn.commit()


def _set_state(cursor: psycopg2.extensions.cursor, schema: str, key: str, value: str) -> None:
    cursor.execute(f"insert into {schema}.{STATE_TABLE} (key, value) values (%s, %s)"
                   " on conflict (key) do update set value = excluded.value, updated_at = now()",
                   (key, value))


def _existing_key_index(cursor: psycopg2.extensions.cursor, crm: str, index: CrmIndex) -> str | None:
    """A valid plain index of the table leading with the index's column (the CRM may have one)."""
    cursor.execute(
        "select index_class.relname from pg_index as pg_idx"
        " inner join pg_class as index_class on index_class.oid = pg_idx.indexrelid"
        " inner join pg_attribute as attribute on attribute.attrelid = pg_idx.indrelid"
        "     and attribute.attnum = pg_idx.indkey[0]"
        " where pg_idx.indrelid = to_regclass(%s) and attribute.attname = %s and pg_idx.indisvalid"
        "     and pg_idx.indexprs is null and pg_idx.indpred is null"
        " order by index_class.relname = %s desc, index_class.relname limit 1",
        (f"{crm}.{sql.Identifier(index.table).as_string(cursor)}", index.key_column, index.name))
    row = cursor.fetchone()
    return row[0] if row else None


def _index_valid(cursor: psycopg2.extensions.cursor, crm: str, name: str) -> bool | None:
    cursor.execute("select pg_idx.indisvalid from pg_index as pg_idx"
                   " where pg_idx.indexrelid = to_regclass(%s)", (f"{crm}.{name}",))
    row = cursor.fetchone()
    return None if row is None else bool(row[0])


def _build_indexes(conn: psycopg2.extensions.connection, plan: InstallPlan) -> dict[str, str]:
    conn.autocommit = True  # CREATE/REINDEX ... CONCURRENTLY cannot run in a transaction block
    crm = sql.Identifier(plan.crm_schema).as_string(conn)
    schema = plan.function_schema
    fingerprint = plan.index_fingerprint()
    outcome: dict[str, str] = {}
    with conn.cursor() as cursor:
        cursor.execute(f"select value from {schema}.{STATE_TABLE} where key = 'index_fingerprint'")
        row = cursor.fetchone()
        stale = row is None or row[0] != fingerprint
        for index in plan.indexes:
            table = f"{crm}.{sql.Identifier(index.table).as_string(cursor)}"
            if index.key_column is not None:
                found = _existing_key_index(cursor, crm, index)
                if found is not None:
                    outcome[index.name] = "kept" if found == index.name else f"uses {found}"
                    continue
            valid = _index_valid(cursor, crm, index.name)
            if valid is False:
                log.info("dropping %s.%s, left invalid by an interrupted build", crm, index.name)
                cursor.execute(f"drop index concurrently if exists {crm}.{index.name}")
                valid = None
            if valid is None:
                log.info("creating index %s on %s (concurrently)", index.name, table)
                cursor.execute(f"create index concurrently if not exists {index.name}"
                               f" on {table} {index.definition}")
                outcome[index.name] = "created"
            elif stale and index.key_column is None:
                log.info("rebuilding index %s: the phone key or its metadata changed", index.name)
                cursor.execute(f"reindex index concurrently {crm}.{index.name}")
                outcome[index.name] = "rebuilt"
            else:
                outcome[index.name] = "kept"
        if any(state in ("created", "rebuilt") for state in outcome.values()):
            # statistics of the index expressions, so the planner knows a phone is selective
            tables = sorted({index.table for index in plan.indexes})
            cursor.execute("analyze " + ", ".join(
                f"{crm}.{sql.Identifier(name).as_string(cursor)}" for name in tables))
        _set_state(cursor, schema, "index_fingerprint", fingerprint)
    return outcome


def install(url: str, plan: InstallPlan, grant_to: Sequence[str] = ()) -> InstallReport:
    """Preflight, then install or upgrade everything; raises PreflightError before any write."""
    conn = connect(url, "leadlink-crm-install")
    try:
        with conn.cursor() as cursor:
            preflight.check(cursor, plan, grant_to)
        conn.rollback()
        _install_objects(conn, plan, grant_to)
        indexes = _build_indexes(conn, plan)
    finally:
        conn.close()
    names = [signature.split("(", 1)[0] for signature in plan.app_functions]
    return InstallReport(plan.function_schema, plan.crm_schema, plan.phonenumbers_version, names,
                         indexes, list(grant_to))

"""Publish's scratch tables: the staged marts (`pub_*`) and the work tables (`w_*`).

Nothing lives in a session, so a transaction pooler (PgBouncer in transaction mode, Supabase's
port 6543) may hand every transaction to another backend:
- a dry run computes its plan in one transaction, on temp tables, and rolls it back;
- an apply or undo runs many short transactions, so its tables are real (unlogged: scratch, no WAL)
  tables in schema leadlink_publish, named after the run (`r<key>_w_lead_links`), dropped when the
  run ends; a crashed run's tables are dropped by the next run that holds the publish lock.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import psycopg2.extensions
from psycopg2 import sql

from leadlink.crm.publish.target import PUBLISH_SCHEMA

TABLES = (
    "pub_customers", "pub_merges", "pub_lead_links", "pub_unlinkable", "pub_new_leads",
    "pub_history", "pub_phone_matches", "pub_customer_targets", "w_customer_inserts",
    "w_customer_updates", "w_merges", "w_lead_links", "w_repoint", "w_new_leads", "w_history",
    "w_archive", "w_delete_merged", "w_undo_leads",
)
LEFTOVER_PATTERN = r"^r[0-9a-f]{10}_(pub|w)_"


@dataclass(frozen=True)
class Workspace:
    """key None: temp tables inside the one transaction of a dry run."""
    key: str | None = None
    created: set[str] = field(default_factory=set, compare=False)

    @classmethod
    def persistent(cls) -> Workspace:
        return cls("r" + secrets.token_hex(5))

    def table(self, name: str) -> sql.Identifier:
        if name not in TABLES:
            raise KeyError(name)
        if self.key is None:
            return sql.Identifier(name)
        return sql.Identifier(PUBLISH_SCHEMA, f"{self.key}_{name}")

    def parts(self) -> dict[str, sql.Composable]:
        return {name: self.table(name) for name in TABLES}

    def _create(self, name: str) -> sql.Composed:
        kind = sql.SQL("temp" if self.key is None else "unlogged")
        return sql.SQL("create {} table {}").format(kind, self.table(name))

    def drop(self, cursor: psycopg2.extensions.cursor, name: str) -> None:
        cursor.execute(sql.SQL("drop table if exists {}").format(self.table(name)))

    def create_as(self, cursor: psycopg2.extensions.cursor, name: str, query: sql.Composable,
                  params: dict | None = None, index: tuple[str, ...] = ()) -> None:
        """(Re)create table `name` from a select, index it and analyze it."""
        self.drop(cursor, name)
        cursor.execute(self._create(name) + sql.SQL(" as ") + query, params)
        self.created.add(name)
        self.finish(cursor, name, index)

    def create_columns(self, cursor: psycopg2.extensions.cursor, name: str,
                       columns: tuple[tuple[str, str], ...]) -> None:
        self.drop(cursor, name)
        definition = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL(kind))
            for column, kind in columns)
        cursor.execute(self._create(name) + sql.SQL(" (") + definition + sql.SQL(")"))
        self.created.add(name)

    def finish(self, cursor: psycopg2.extensions.cursor, name: str,
               index: tuple[str, ...] = ()) -> None:
        for column in index:
            cursor.execute(sql.SQL("create index on {} ({})").format(
                self.table(name), sql.Identifier(column)))
        cursor.execute(sql.SQL("analyze {}").format(self.table(name)))

    def count(self, cursor: psycopg2.extensions.cursor, name: str) -> int:
        cursor.execute(sql.SQL("select count(*) from {}").format(self.table(name)))
        return int(cursor.fetchone()[0])

    def drop_all(self, cursor: psycopg2.extensions.cursor) -> None:
        for name in sorted(self.created):
            self.drop(cursor, name)
        self.created.clear()


def drop_leftovers(cursor: psycopg2.extensions.cursor, keep: Workspace) -> list[str]:
    """Drop the scratch tables of runs that ended without cleaning up (a crash, kill -9). Only
    called while holding the publish lock, when no other apply or undo can be using them."""
    cursor.execute(
        "select relname from pg_class where relnamespace = to_regnamespace(%s)"
        " and relkind = 'r' and relname ~ %s", (PUBLISH_SCHEMA, LEFTOVER_PATTERN))
    names = [row[0] for row in cursor.fetchall()
             if keep.key is None or not row[0].startswith(f"{keep.key}_")]
    for name in names:
        cursor.execute(sql.SQL("drop table if exists {}").format(
            sql.Identifier(PUBLISH_SCHEMA, name)))
    return names

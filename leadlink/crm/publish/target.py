"""Where publish writes: the CRM's database and schema, and the knobs of its batches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg2.extensions
from psycopg2 import sql

from loaders.database import connect
from loaders.settings import Settings

PUBLISH_SCHEMA = "leadlink_publish"
LOCK_NAME = "publish"  # one publish (apply or undo) at a time: a lease row in raw.locks
SCHEMA_LOCK_KEY = 7_310_009  # transaction-scoped: serialises creating leadlink_publish elsewhere
DEFAULT_BATCH_SIZE = 20_000
DEFAULT_LOCK_TIMEOUT_MS = 2_000
DEFAULT_ATTEMPTS = 8
# set per transaction: a role's default (Supabase sets short ones) must not cut a validation
DEFAULT_STATEMENT_TIMEOUT_MS = 600_000


@dataclass(frozen=True)
class PublishTarget:
    leadlink_url: str
    crm_url: str
    crm_schema: str
    analytics_schema: str
    raw_schema: str
    project_dir: Path  # the dbt project: publish renders the macros it shares with the models
    function_schema: str = "leadlink"
    batch_size: int = DEFAULT_BATCH_SIZE
    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS
    attempts: int = DEFAULT_ATTEMPTS
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS
    lock_lease_seconds: float = 60.0

    @property
    def separate_database(self) -> bool:
        return self.crm_url != self.leadlink_url

    @classmethod
    def from_settings(cls, settings: Settings, leadlink_url: str) -> PublishTarget:
        publish = settings.publish
        return cls(
            leadlink_url=leadlink_url,
            crm_url=settings.publish.crm_database_url or leadlink_url,
            crm_schema=settings.crm_schema,
            analytics_schema=settings.analytics_schema,
            raw_schema=settings.raw_schema,
            project_dir=settings.project_dir,
            function_schema=getattr(settings, "function_schema", "leadlink"),
            batch_size=settings.publish.batch_size,
            lock_timeout_ms=settings.publish.lock_timeout_ms,
            attempts=getattr(publish, "lock_attempts", None) or DEFAULT_ATTEMPTS,
            statement_timeout_ms=(getattr(publish, "statement_timeout_ms", None)
                                  or DEFAULT_STATEMENT_TIMEOUT_MS),
            lock_lease_seconds=getattr(settings, "lock_lease_seconds", 60.0),
        )

    def schemas(self) -> dict[str, sql.Composable]:
        """The schema placeholders of the SQL files: {crm}, {pub}, {analytics}, {raw}."""
        return {"crm": sql.Identifier(self.crm_schema), "pub": sql.Identifier(PUBLISH_SCHEMA),
                "analytics": sql.Identifier(self.analytics_schema),
                "raw": sql.Identifier(self.raw_schema)}

    def crm_table(self, name: str) -> sql.Identifier:
        return sql.Identifier(self.crm_schema, name)

    def crm_regclass(self, cursor: psycopg2.extensions.cursor, name: str) -> str:
        """schema.table as text for to_regclass(), quoted by psycopg2 as PostgreSQL would."""
        return sql.Identifier(self.crm_schema, name).as_string(cursor)

    def connect_crm(self) -> psycopg2.extensions.connection:
        return connect(self.crm_url, "leadlink-publish")

    def connect_leadlink(self) -> psycopg2.extensions.connection:
        return connect(self.leadlink_url, "leadlink-publish-read")

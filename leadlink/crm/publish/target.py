"""Where publish writes: the CRM's database and schema, and the knobs of its batches."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2.extensions

from loaders.database import connect
from loaders.settings import Settings

PUBLISH_SCHEMA = "leadlink_publish"
ADVISORY_LOCK_KEY = 7_310_008  # one publish (apply or undo) at a time per CRM database
DEFAULT_BATCH_SIZE = 20_000
DEFAULT_LOCK_TIMEOUT_MS = 2_000
DEFAULT_ATTEMPTS = 8


@dataclass(frozen=True)
class PublishTarget:
    leadlink_url: str
    crm_url: str
    crm_schema: str
    analytics_schema: str
    raw_schema: str
    batch_size: int = DEFAULT_BATCH_SIZE
    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS
    attempts: int = DEFAULT_ATTEMPTS

    @property
    def separate_database(self) -> bool:
        return self.crm_url != self.leadlink_url

    @classmethod
    def from_settings(cls, settings: Settings, leadlink_url: str) -> PublishTarget:
        env = settings.environ
        return cls(
            leadlink_url=leadlink_url,
            crm_url=env.get("LEADLINK_CRM_DATABASE_URL") or leadlink_url,
            crm_schema=settings.crm_schema,
            analytics_schema=settings.analytics_schema,
            raw_schema=settings.raw_schema,
            batch_size=int(env.get("LEADLINK_PUBLISH_BATCH_SIZE") or DEFAULT_BATCH_SIZE),
            lock_timeout_ms=int(env.get("LEADLINK_PUBLISH_LOCK_TIMEOUT_MS")
                                or DEFAULT_LOCK_TIMEOUT_MS),
        )

    def sql(self, text: str) -> str:
        """Fill {crm}, {pub}, {analytics} and {raw} with quoted schema names (literal braces in
        the SQL must be doubled)."""
        return text.format(crm=quote_ident(self.crm_schema), pub=PUBLISH_SCHEMA,
                           analytics=quote_ident(self.analytics_schema),
                           raw=quote_ident(self.raw_schema))

    def connect_crm(self) -> psycopg2.extensions.connection:
        return connect(self.crm_url, "leadlink-publish")

    def connect_leadlink(self) -> psycopg2.extensions.connection:
        return connect(self.leadlink_url, "leadlink-publish-read")


def quote_ident(name: str) -> str:
    """An identifier quoted as PostgreSQL's quote_ident() would (schema names come from settings)."""
    if name and name[0].isalpha() and name.replace("_", "a").isalnum() and name.islower():
        return name
    return '"' + name.replace('"', '""') + '"'

"""The demo pipeline: sample data into the database, `dbt build`, and a short summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql

from leadlink.identity.readiness import NotBuiltError, read_checks
from leadlink.runtime.database import embedded_server, resolve_database_url
from leadlink.runtime.embedded import server_url
from loaders.database import connect, connection, migrate
from loaders.file_loader import load_files
from loaders.landing import LandingCounts
from loaders.legacy import load_legacy
from loaders.settings import Settings
from loaders.sources import SOURCES

LEGACY_FILES = {
    "sources": "sources.csv",
    "customers": "customers.csv",
    "leads_master": "leads_master.csv",
    "lead_sources_history": "lead_sources_history.csv",
}


@dataclass
class DemoLoad:
    per_source: dict[str, LandingCounts] = field(default_factory=dict)


def recreate_embedded_database(settings: Settings) -> None:
    """Drop and create the embedded database (never an external one)."""
    if not settings.uses_embedded_database:
        raise RuntimeError("--fresh only works on the embedded database; "
                           "it never drops a database given by LEADLINK_DATABASE_URL")
    status = embedded_server(settings).start()
    assert status.port is not None
    conn = connect(server_url(status.port, "postgres"), "leadlink-demo")
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql.SQL("drop database if exists {} with (force)").format(
                sql.Identifier(settings.embedded_database)))
    finally:
        conn.close()


def sample_files(samples_dir: Path, source: str) -> list[Path]:
    folder = samples_dir / source
    return sorted(path for path in folder.glob("*") if path.suffix in {".json", ".jsonl"})


def load_samples(settings: Settings, url: str, samples_dir: Path) -> DemoLoad:
    result = DemoLoad()
    migrate(url, settings)
    for source in SOURCES:
        counts = LandingCounts()
        for file_result in load_files(settings, url, source, sample_files(samples_dir, source)):
            counts.add(file_result.counts)
        result.per_source[source] = counts
    legacy_dir = samples_dir / "legacy"
    files = {table: legacy_dir / name for table, name in LEGACY_FILES.items()
             if (legacy_dir / name).exists()}
    counts = LandingCounts()
    for table_result in load_legacy(settings, url, files):
        counts.add(table_result.counts)
    result.per_source["legacy"] = counts
    return result


def _count(cursor: Any, query: sql.Composable) -> int | None:
    try:
        cursor.execute(query)
    except psycopg2.Error:
        cursor.connection.rollback()
        return None
    return int(cursor.fetchone()[0])


def _readiness(settings: Settings, url: str) -> str | None:
    """How many readiness checks pass (None before the build)."""
    try:
        checks = read_checks(settings, url)
    except NotBuiltError:
        return None
    ready = sum(check.ready for check in checks)
    verdict = ("NOT NULL and the foreign key can be switched on" if ready == len(checks)
               else "`leadlink readiness` lists what is missing")
    return f"{ready} of {len(checks)} checks ready: {verdict}"


def summary(settings: Settings, url: str) -> dict[str, Any]:
    """Figures from the raw tables and the marts; a mart not built yet reads as None."""
    raw = sql.Identifier(settings.raw_schema)
    marts = sql.Identifier(settings.analytics_schema)
    with connection(url, "leadlink-summary") as conn, conn.cursor() as cursor:
        figures: dict[str, Any] = {
            "knowlarity_calls": _count(cursor, sql.SQL(
                "select count(distinct call_uuid) from {}.knowlarity_calls").format(raw)),
            "meta_leads": _count(cursor, sql.SQL(
                "select count(distinct lead_id) from {}.meta_leads").format(raw)),
            "legacy_leads": _count(cursor, sql.SQL("select count(*) from {}.leads_master").format(
                sql.Identifier(settings.crm_schema))),
            "quarantined": _count(cursor, sql.SQL("select count(*) from {}.quarantine").format(raw)),
            "customers": _count(cursor, sql.SQL("select count(*) from {}.customers").format(marts)),
            "leads": _count(cursor, sql.SQL("select count(*) from {}.leads").format(marts)),
            "linked_leads": _count(cursor, sql.SQL(
                "select count(*) from {}.leads where customer_id is not null").format(marts)),
            "unlinkable_leads": _count(cursor, sql.SQL(
                "select count(*) from {}.unlinkable_leads").format(marts)),
        }
    figures["readiness"] = _readiness(settings, url)
    return figures


def resolve_for_demo(settings: Settings, fresh: bool) -> str:
    if fresh:
        recreate_embedded_database(settings)
    return resolve_database_url(settings)

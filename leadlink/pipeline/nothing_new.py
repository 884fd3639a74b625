"""Does a `leadlink run` cycle have anything new to build and publish?

A cycle takes a fingerprint of three things before its build:
- the dbt project (its models, macros, seeds, tests and config, the build's arguments and the
  schemas it reads and writes): a change is new rules;
- the tables dbt reads: the raw landing tables (append-only, so their row count and highest
  raw_id) and the CRM's tables (mutable by the app, so their row count and the sum of their
  rows' xmin: every insert, update or delete changes one or the other, whether or not the app
  touched updated_at);
- the relations dbt built (each relation's oid and file node in the analytics schemas, and the
  server's start time, since a restart empties the unlogged intermediate tables).

After a build that passed, the cycle records (project, inputs as they were before the build,
relations as the build left them) as stage `built`; after a publish that succeeded, as stage
`published`. The next cycle skips the build (and the publish) when what it sees equals the
recorded stage: nothing landed, nothing in the CRM changed, nobody rebuilt or dropped a model.
Publish's own writes change the CRM, so the cycle after a publish that wrote builds once more;
the inputs recorded are those from before the build, so a record that arrived during a build is
new to the next cycle. Any error taking a fingerprint means "unknown": the cycle builds.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import sql

from loaders.database import connect
from loaders.settings import Settings

log = logging.getLogger("leadlink.run")

BUILT, PUBLISHED = "built", "published"
RAW_TABLES = ("knowlarity_calls", "meta_leads")  # what the staging models read from raw
CRM_TABLES = ("sources", "customers", "leads_master", "lead_sources_history")
# the parts of the project a build reads (tests/python is not dbt's)
PROJECT_FOLDERS = {"models": (".sql", ".yml"), "macros": (".sql", ".yml"),
                   "seeds": (".csv", ".yml"), "tests": (".sql", ".yml")}
PROJECT_FILES = ("dbt_project.yml", "selectors.yml")


@dataclass(frozen=True)
class Fingerprint:
    project: str
    inputs: str
    outputs: str


def _digest(parts: Iterable[object]) -> str:
    hashed = hashlib.sha256()
    for part in parts:
        hashed.update(repr(part).encode())
        hashed.update(b"\x00")
    return hashed.hexdigest()


def project_files(project_dir: Path) -> list[Path]:
    found = [project_dir / name for name in PROJECT_FILES if (project_dir / name).is_file()]
    for folder, suffixes in PROJECT_FOLDERS.items():
        root = project_dir / folder
        if root.is_dir():
            found += [path for path in root.rglob("*")
                      if path.is_file() and path.suffix in suffixes and "python" not in path.parts]
    return sorted(found)


def project_digest(settings: Settings, build_arguments: Sequence[str]) -> str:
    project_dir = settings.project_dir
    parts: list[object] = [tuple(build_arguments), settings.raw_schema, settings.crm_schema,
                           settings.analytics_schema, settings.function_schema]
    for path in project_files(project_dir):
        parts += [str(path.relative_to(project_dir)), hashlib.sha256(path.read_bytes()).hexdigest()]
    return _digest(parts)


def _inputs(cursor: psycopg2.extensions.cursor, settings: Settings) -> str:
    facts: list[object] = []
    for table in RAW_TABLES:
        cursor.execute(sql.SQL("select count(*), max(raw_id) from {}").format(
            sql.Identifier(settings.raw_schema, table)))
        facts.append((table, cursor.fetchone()))
    for table in CRM_TABLES:
        # xmin is the inserting transaction of each row version: an update or a delete and
        # insert moves the sum even when the count stays (freezing keeps xmin since PG 9.4)
        cursor.execute(sql.SQL("select count(*), sum(cast(cast(xmin as text) as bigint)) from {}")
                       .format(sql.Identifier(settings.crm_schema, table)))
        facts.append((table, cursor.fetchone()))
    return _digest(facts)


def _outputs(cursor: psycopg2.extensions.cursor, settings: Settings) -> str:
    cursor.execute("""
        select
            pg_postmaster_start_time(),
            string_agg(
                concat_ws(':', namespaces.nspname, classes.relname, classes.oid,
                          classes.relfilenode),
                ',' order by namespaces.nspname, classes.relname
            )
        from pg_class as classes
        inner join pg_namespace as namespaces on classes.relnamespace = namespaces.oid
        where
            classes.relkind in ('r', 'p', 'v', 'm')
            and (namespaces.nspname = %(schema)s or namespaces.nspname like %(prefix)s)
    """, {"schema": settings.analytics_schema,
          "prefix": settings.analytics_schema.replace("_", r"\_") + r"\_%"})
    return _digest(cursor.fetchone())


def _recorded(cursor: psycopg2.extensions.cursor, settings: Settings) -> dict[str, Fingerprint]:
    cursor.execute(sql.SQL("select stage, project_digest, inputs_digest, outputs_digest from {}")
                   .format(sql.Identifier(settings.raw_schema, "cycle_fingerprints")))
    return {stage: Fingerprint(*digests) for stage, *digests in cursor.fetchall()}


def look(settings: Settings, url: str,
         build_arguments: Sequence[str]) -> tuple[Fingerprint | None, dict[str, Fingerprint]]:
    """(the fingerprint now, the fingerprints recorded by stage), in one read-only snapshot. The
    fingerprint is None when it cannot be taken (a table missing, the database unreachable):
    then the cycle builds."""
    try:
        conn = connect(url, "leadlink-run-fingerprint")
    except psycopg2.Error as error:
        log.debug("no fingerprint (%s): building", error)
        return None, {}
    try:
        conn.set_session(readonly=True, isolation_level="REPEATABLE READ")
        with conn.cursor() as cursor:
            stages = _recorded(cursor, settings)
            now = Fingerprint(project_digest(settings, build_arguments),
                              _inputs(cursor, settings), _outputs(cursor, settings))
        return now, stages
    except (psycopg2.Error, OSError) as error:
        log.debug("no fingerprint (%s): building", str(error).strip().splitlines()[:1])
        return None, {}
    finally:
        conn.close()


def record(settings: Settings, url: str, stage: str, before: Fingerprint) -> None:
    """Record `stage` as done for the inputs of `before`, with the relations as they are now.
    Raises psycopg2.Error: a cycle that cannot record its success reports it."""
    conn = connect(url, "leadlink-run-fingerprint")
    try:
        with conn.cursor() as cursor:
            outputs = _outputs(cursor, settings)
            cursor.execute(sql.SQL("""
                insert into {} (stage, project_digest, inputs_digest, outputs_digest)
                values (%s, %s, %s, %s)
                on conflict (stage) do update set
                    project_digest = excluded.project_digest,
                    inputs_digest = excluded.inputs_digest,
                    outputs_digest = excluded.outputs_digest,
                    recorded_at = clock_timestamp()
            """).format(sql.Identifier(settings.raw_schema, "cycle_fingerprints")),
                (stage, before.project, before.inputs, outputs))
        conn.commit()
    finally:
        conn.close()


def forget(settings: Settings, url: str, stages: Sequence[str]) -> None:
    """Drop the records of `stages`: a build about to change the models vouches for nothing until
    it has passed. Raises psycopg2.Error (then the cycle must not build)."""
    conn = connect(url, "leadlink-run-fingerprint")
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql.SQL("delete from {} where stage = any(%s)").format(
                sql.Identifier(settings.raw_schema, "cycle_fingerprints")), (list(stages),))
        conn.commit()
    finally:
        conn.close()

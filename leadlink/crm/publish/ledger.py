"""leadlink_publish.batches and step_progress: one row per apply (resumed while unfinished) and
the progress of each of its steps, so an interrupted apply continues where it stopped."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import psycopg2.extensions
from psycopg2 import sql

from leadlink.crm.publish.batches import Figures
from leadlink.crm.publish.target import PUBLISH_SCHEMA, PublishTarget

log = logging.getLogger("leadlink.publish.ledger")

PUB = sql.Identifier(PUBLISH_SCHEMA)


def start_batch(target: PublishTarget, conn: psycopg2.extensions.connection, options: dict,
                plan: dict) -> tuple[int, bool]:
    """Resume the latest batch when it did not finish, else open a new one. (batch_id, resumed)"""
    with conn.cursor() as cursor:
        cursor.execute(sql.SQL(
            "select batch_id from {}.batches where crm_schema = %s"
            " and status in ('running', 'failed') order by batch_id desc limit 1").format(PUB),
            (target.crm_schema,))
        row = cursor.fetchone()
        if row is not None:
            cursor.execute(sql.SQL(
                "update {}.batches set status = 'running', plan = %s where batch_id = %s").format(
                PUB), (json.dumps(plan, default=str), row[0]))
            conn.commit()
            return int(row[0]), True
        cursor.execute(sql.SQL(
            "insert into {}.batches (crm_schema, options, plan) values (%s, %s, %s)"
            " returning batch_id").format(PUB),
            (target.crm_schema, json.dumps(options), json.dumps(plan, default=str)))
        batch_id = int(cursor.fetchone()[0])
    conn.commit()
    return batch_id, False


def set_status(conn: psycopg2.extensions.connection, batch_id: int, status: str,
               figures: Figures | None = None, error: str | None = None) -> None:
    assignments = [sql.SQL("status = %(status)s")]
    if status in ("applied", "failed"):
        assignments.append(sql.SQL("finished_at = clock_timestamp()"))
    if status == "undone":
        assignments.append(sql.SQL("undone_at = clock_timestamp()"))
    if figures is not None:
        assignments.append(sql.SQL("figures = %(figures)s"))
    if error is not None:
        assignments.append(sql.SQL(
            "figures = figures || jsonb_build_object('last_error', %(error)s::text)"))
    with conn.cursor() as cursor:
        cursor.execute(sql.SQL("update {}.batches set {} where batch_id = %(batch_id)s").format(
            PUB, sql.SQL(", ").join(assignments)),
            {"status": status, "batch_id": batch_id, "error": error,
             "figures": json.dumps(figures.as_dict()) if figures is not None else None})
    conn.commit()


class Step:
    """Bookkeeping of one step in step_progress: skipped when a resumed batch finished it."""

    def __init__(self, conn: psycopg2.extensions.connection, figures: Figures,
                 batch_id: int) -> None:
        self.conn, self.figures, self.batch_id = conn, figures, batch_id

    def run(self, name: str, body: Callable[[], int]) -> None:
        with self.conn.cursor() as cursor:
            cursor.execute(sql.SQL(
                "insert into {}.step_progress (batch_id, step) values (%s, %s)"
                " on conflict (batch_id, step) do nothing").format(PUB), (self.batch_id, name))
            cursor.execute(sql.SQL(
                "select done from {}.step_progress where batch_id = %s and step = %s").format(PUB),
                (self.batch_id, name))
            done = cursor.fetchone()[0]
        self.conn.commit()
        if done:
            log.info("step %s: already done in batch %s", name, self.batch_id)
            return
        started = time.perf_counter()
        rows = body()
        self.figures.step_seconds[name] = self.figures.step_seconds.get(name, 0.0) + (
            time.perf_counter() - started)
        self.figures.rows[name] = self.figures.rows.get(name, 0) + rows
        with self.conn.cursor() as cursor:
            cursor.execute(sql.SQL(
                "update {}.step_progress set done = true, finished_at = clock_timestamp()"
                " where batch_id = %s and step = %s").format(PUB), (self.batch_id, name))
        self.conn.commit()
        log.info("step %s: %d row(s)", name, rows)

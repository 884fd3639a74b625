"""Small helpers shared by the tests (import as `from dbhelpers import query`)."""

from __future__ import annotations

import psycopg2


def query(url: str, statement: str, params: tuple = ()) -> list[tuple]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        conn.close()

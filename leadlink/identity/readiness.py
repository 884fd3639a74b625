"""`leadlink readiness`: can the CRM switch on leads_master.customer_id NOT NULL and the FOREIGN KEY?

The checks are defined once, in the dbt model `readiness_checks` (models/marts/readiness/), which
dbt also tests with warn severity; this module reads it, and rebuilds it on request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg2.errors
from psycopg2 import sql

from leadlink.runtime.dbt_runner import run_dbt
from loaders.database import connection
from loaders.settings import Settings

# rebuilt whole by --refresh: the facts are kept up to date by each build from the CRM rows
# written since the last one, and a refresh re-reads every row instead
READINESS_MODELS = ["readiness_failing_leads", "leads_master_customer_id_changes", "readiness_checks"]


class NotBuiltError(RuntimeError):
    """The marts are not built yet in this database."""


@dataclass(frozen=True)
class Check:
    name: str
    failing_rows: int
    ready: bool
    description: str
    checked_at: datetime


def read_checks(settings: Settings, url: str) -> list[Check]:
    query = sql.SQL(
        "select check_name, failing_rows, is_ready, description, checked_at"
        " from {}.readiness_checks order by check_order"
    ).format(sql.Identifier(settings.analytics_schema))
    with connection(url, "leadlink-readiness") as conn, conn.cursor() as cursor:
        try:
            cursor.execute(query)
        except psycopg2.errors.UndefinedTable as error:
            raise NotBuiltError(
                f"{settings.analytics_schema}.readiness_checks does not exist: run"
                " `leadlink dbt build` (or `leadlink run`) first") from error
        return [Check(name, int(failing), bool(ready), description, checked_at)
                for name, failing, ready, description, checked_at in cursor.fetchall()]


def refresh_checks(settings: Settings, url: str) -> None:
    """Rebuild the readiness models against the CRM's tables as they are now."""
    result = run_dbt(settings, url, ["run", "--quiet", "--full-refresh", "--select", *READINESS_MODELS],
                     capture=True)
    if result.returncode != 0:
        raise NotBuiltError(f"dbt run of the readiness models failed:\n{result.stdout[-2000:]}"
                            f"{result.stderr[-2000:]}")


def as_json(checks: list[Check]) -> dict[str, Any]:
    return {
        "ready": all(check.ready for check in checks),
        "checks": [{"name": check.name, "failing_rows": check.failing_rows, "ready": check.ready}
                   for check in checks],
    }


def render(checks: list[Check]) -> list[str]:
    width = max((len(check.name) for check in checks), default=0)
    lines = [f"{check.name:<{width}}  {check.failing_rows:>9}  "
             f"{'ready' if check.ready else 'not ready':<9}  {check.description}"
             for check in checks]
    verdict = "ready" if all(check.ready for check in checks) else "not ready"
    checked = f", checked {checks[0].checked_at:%Y-%m-%d %H:%M %Z}" if checks else ""
    lines.append(f"readiness: {verdict} "
                 f"({sum(check.ready for check in checks)}/{len(checks)} checks pass{checked};"
                 " --refresh re-checks the CRM now)")
    return lines

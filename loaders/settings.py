"""Settings read from the environment, once, and passed down explicitly."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_EMBEDDED_PORT = 54329


def find_project_dir(environ: Mapping[str, str]) -> Path:
    """The dbt project directory: LEADLINK_PROJECT_DIR, else the checkout this package lives in,
    else the working directory."""
    configured = environ.get("LEADLINK_PROJECT_DIR")
    if configured:
        return Path(configured).resolve()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "dbt_project.yml").exists():
        return checkout
    return Path.cwd()


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    home_dir: Path
    database_url: str | None
    embedded_port: int
    embedded_database: str
    raw_schema: str
    crm_schema: str
    analytics_schema: str
    environ: Mapping[str, str] = field(repr=False, default_factory=dict)

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def pgdata_dir(self) -> Path:
        return self.home_dir / "pgdata"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        project_dir = find_project_dir(env)
        home = Path(env.get("LEADLINK_HOME") or project_dir / ".leadlink").resolve()
        return cls(
            project_dir=project_dir,
            home_dir=home,
            database_url=env.get("LEADLINK_DATABASE_URL") or None,
            embedded_port=int(env.get("LEADLINK_PG_PORT") or DEFAULT_EMBEDDED_PORT),
            embedded_database=env.get("LEADLINK_DATABASE_NAME") or "leadlink",
            raw_schema=env.get("LEADLINK_RAW_SCHEMA") or "raw",
            crm_schema=env.get("LEADLINK_CRM_SCHEMA") or "crm",
            analytics_schema=env.get("LEADLINK_ANALYTICS_SCHEMA") or "analytics",
            environ=env,
        )

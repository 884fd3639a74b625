"""Run dbt (and dbt-aware tools such as sqlfluff) against the database leadlink resolved.

The profile is `profiles.yml.example`, which reads everything from LEADLINK_DB_* variables: we fill
those from the database URL, so `leadlink dbt build` needs no setup, and an analyst with their own
PostgreSQL can copy the same file to ~/.dbt/profiles.yml and run plain `dbt build`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from loaders.settings import Settings


def url_to_profile_env(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    env = {
        "LEADLINK_DB_HOST": parts.hostname or query.get("host", ["127.0.0.1"])[0],
        "LEADLINK_DB_PORT": str(parts.port or query.get("port", ["5432"])[0]),
        "LEADLINK_DB_USER": unquote(parts.username or query.get("user", ["postgres"])[0]),
        "LEADLINK_DB_PASSWORD": unquote(parts.password or query.get("password", [""])[0]),
        "LEADLINK_DB_NAME": unquote(parts.path.lstrip("/") or query.get("dbname", ["postgres"])[0]),
    }
    if "sslmode" in query:
        env["LEADLINK_DB_SSLMODE"] = query["sslmode"][0]
    return env


def _profiles_dir(settings: Settings) -> Path:
    """A directory holding profiles.yml: a copy of the committed example, refreshed when it changes."""
    target = settings.home_dir / "dbt-profiles"
    target.mkdir(parents=True, exist_ok=True)
    source = settings.project_dir / "profiles.yml.example"
    destination = target / "profiles.yml"
    if not destination.exists() or destination.read_bytes() != source.read_bytes():
        shutil.copyfile(source, destination)
    return target


def dbt_environment(settings: Settings, url: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(url_to_profile_env(url))
    env.setdefault("LEADLINK_DB_SCHEMA", settings.analytics_schema)
    env.setdefault("LEADLINK_RAW_SCHEMA", settings.raw_schema)
    env.setdefault("LEADLINK_CRM_SCHEMA", settings.crm_schema)
    if settings.uses_embedded_database:
        # dbt and the server share this machine: a thread per core (more only contend)
        env.setdefault("LEADLINK_DBT_THREADS", str(max(2, os.cpu_count() or 2)))
    env["DBT_PROFILES_DIR"] = str(_profiles_dir(settings))
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    env.setdefault("DBT_PROJECT_DIR", str(settings.project_dir))
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    return env


def dbt_executable() -> str:
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def run_dbt(settings: Settings, url: str, args: Sequence[str], capture: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(
        [dbt_executable(), *args],
        cwd=settings.project_dir,
        env=dbt_environment(settings, url),
        text=True,
        capture_output=capture,
        check=False,
    )


def run_with_dbt_env(settings: Settings, url: str, command: Sequence[str]) -> int:
    return subprocess.run(list(command), cwd=settings.project_dir,
                          env=dbt_environment(settings, url), check=False).returncode

"""The install plan: what `dbt run-operation crm_install_plan` renders from the macros, as data."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leadlink.runtime.dbt_runner import run_dbt
from loaders.settings import Settings

PLAN_MARKER = "LEADLINK_CRM_INSTALL_PLAN "
FUNCTION_SCHEMA = "leadlink"


class PlanError(RuntimeError):
    """dbt could not render the install plan."""


@dataclass(frozen=True)
class SeedTable:
    name: str
    relation: str
    seed_path: str
    columns: list[str]
    ddl: str
    index_ddl: list[str]


@dataclass(frozen=True)
class CrmIndex:
    name: str
    table: str
    definition: str
    # set for a plain index on one column: any valid index leading with it will do
    key_column: str | None


@dataclass(frozen=True)
class InstallPlan:
    phonenumbers_version: str
    crm_schema: str
    function_schema: str
    tables: list[SeedTable]
    index_key_function: str
    functions: list[str]
    public_functions: list[str]
    app_functions: list[str]
    private_functions: list[str]
    indexes: list[CrmIndex]
    project_dir: Path

    @property
    def all_functions(self) -> list[str]:
        return self.public_functions + self.private_functions + self.app_functions

    def seed_file(self, table: SeedTable) -> Path:
        return self.project_dir / table.seed_path

    def index_fingerprint(self) -> str:
        """What the expression indexes' contents depend on: the key function's SQL and the
        metadata it reads (the test numbers do not change an E.164)."""
        digest = hashlib.sha256(self.index_key_function.encode("utf-8"))
        for table in self.tables:
            if table.name != "phone_test_numbers":
                digest.update(self.seed_file(table).read_bytes())
        return digest.hexdigest()


def parse_plan(output: str, project_dir: Path) -> InstallPlan:
    for line in output.splitlines():
        if line.startswith(PLAN_MARKER):
            data: dict[str, Any] = json.loads(line[len(PLAN_MARKER):])
            return InstallPlan(
                phonenumbers_version=data["phonenumbers_version"],
                crm_schema=data["crm_schema"],
                function_schema=data["function_schema"],
                tables=[SeedTable(**table) for table in data["tables"]],
                index_key_function=data["index_key_function"],
                functions=data["functions"],
                public_functions=data["public_functions"],
                app_functions=data["app_functions"],
                private_functions=data["private_functions"],
                indexes=[CrmIndex(**index) for index in data["indexes"]],
                project_dir=project_dir,
            )
    raise PlanError("dbt printed no install plan:\n" + output[-3000:])


def render_plan(settings: Settings, url: str, crm_schema: str | None = None) -> InstallPlan:
    """Render the plan with dbt (no query runs: the plan is executed by the installer)."""
    args = json.dumps({"crm_schema": crm_schema or settings.crm_schema,
                       "function_schema": FUNCTION_SCHEMA})
    result = run_dbt(settings, url, ["--quiet", "run-operation", "crm_install_plan", "--args", args],
                     capture=True)
    if result.returncode != 0:
        raise PlanError(f"dbt run-operation crm_install_plan failed:\n"
                        f"{(result.stdout or '')[-3000:]}{(result.stderr or '')[-2000:]}")
    return parse_plan(result.stdout or "", settings.project_dir)

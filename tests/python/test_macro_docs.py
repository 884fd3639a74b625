"""Every macro is documented in macros/_macros.yml, and every macro that renders SQL is linted.

sqlfluff's dbt templater skips macro files, so their SQL is linted through analyses/macros/,
which call the macros; a macro is covered when an analysis calls it or a covered macro does.
dbt itself checks the documented argument names against the definitions (validate_macro_args).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MACRO_DEFINITION = re.compile(r"{%-?\s*(macro|test)\s+(\w+)\s*\(")
DISPATCH = re.compile(r"adapter\.dispatch\(\s*'(\w+)'")

# Macros whose output is not SQL text that can stand in an analysis, each with why.
NOT_RENDERED = {
    "phone_parsing_data": "generated data (a dict)",
    "phone_function_schema": "a schema name",
    "install_phone_functions": "runs its DDL (phone_functions_sql, which is linted)",
    "crm_install_plan": "prints a JSON plan of SQL strings (crm_functions_sql, ...)",
    "crm_replace_all": "text substitution",
    "crm_seed_table": "a dict of DDL strings",
    "crm_indexes": "a list of index definitions",
    "crm_source_columns": "reads the CRM table's columns from the database",
    "crm_source_fix": "a message",
    "check_crm_source": "runs a query (on-run-start)",
    "prior_relation": "a relation",
    "identity_rebuilds_everything": "runs a query",
    "crm_written_count": "runs a query",
    "identity_is_restricted": "a boolean",
    "data_test_scope": "a condition only while a data test compiles (get_where_subquery, which is)",
    "data_tests_read_rebuilt_rows": "a boolean",
}


def _macro_bodies() -> dict[str, str]:
    bodies: dict[str, str] = {}
    for path in sorted((ROOT / "macros").rglob("*.sql")):
        text = path.read_text(encoding="utf-8")
        matches = list(MACRO_DEFINITION.finditer(text))
        for index, match in enumerate(matches):
            end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
            name = match.group(2) if match.group(1) == "macro" else f"test_{match.group(2)}"
            bodies[name] = text[match.start():end]
    return bodies


def test_every_macro_is_documented_in_macros_yml():
    documented: set[str] = set()
    for path in (ROOT / "macros").rglob("*.yml"):
        documented |= {entry["name"] for entry in yaml.safe_load(path.read_text()).get("macros", [])}
    bodies = _macro_bodies()
    assert bodies, "no macros found"
    assert sorted(set(bodies) - documented) == []
    assert sorted(documented - set(bodies)) == [], "documented macros that do not exist"


def test_every_sql_macro_is_rendered_by_a_lint_analysis():
    bodies = _macro_bodies()
    analyses = "\n".join(path.read_text() for path in (ROOT / "analyses" / "macros").glob("*.sql"))
    covered = {name for name in bodies if re.search(rf"\b{name}\(", analyses)}
    changed = True
    while changed:  # a macro a covered macro calls is rendered too
        changed = False
        for name in list(covered):
            for callee in bodies:
                if callee not in covered and re.search(rf"\b{callee}\(", bodies[name]):
                    covered.add(callee)
                    changed = True
    for name, body in bodies.items():  # a dispatcher is covered by its implementations
        dispatched = DISPATCH.search(body)
        if dispatched and {f"default__{dispatched.group(1)}", f"postgres__{dispatched.group(1)}"} & covered:
            covered.add(name)
    assert sorted(set(bodies) - covered - set(NOT_RENDERED)) == []
    assert sorted(set(NOT_RENDERED) - set(bodies)) == [], "exemptions for macros that do not exist"

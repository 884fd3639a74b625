"""Can this role install the CRM functions? Checked before anything is written: every missing right
is named with its fix, and nothing is changed when one is missing."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg2.extensions

from leadlink.crm.functions.plan import InstallPlan

# The CRM columns the functions read or write, by table.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("id", "phone_number_normalized", "full_name", "email", "city", "created_at",
                  "updated_at"),
    "leads_master": ("id", "full_name", "phone_number_normalized", "alternate_phone_number",
                     "source_id", "external_lead_id", "status", "assigned_to", "branch_id",
                     "customer_id", "created_at", "updated_at"),
}
# What the functions (security definer: they run as the installing role) do on each table.
TABLE_PRIVILEGES = {"customers": ("SELECT", "INSERT", "UPDATE"), "leads_master": ("SELECT",)}


class PreflightError(RuntimeError):
    """The role cannot install; the message names each missing right and its fix."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("leadlink crm install cannot run as this role; nothing was changed:\n"
                         + "\n".join(f"  - {problem}" for problem in self.problems))


def _table_problems(cursor: psycopg2.extensions.cursor, role: str, bypass_rls: bool, crm: str,
                    table: str) -> list[str]:
    qualified = f"{crm}.{table}"
    cursor.execute(
        "select relation.oid, owner.rolname, pg_has_role(current_user, relation.relowner, 'USAGE'),"
        " relation.relrowsecurity, relation.relforcerowsecurity"
        " from pg_class as relation"
        " inner join pg_namespace as namespace on namespace.oid = relation.relnamespace"
        " inner join pg_roles as owner on owner.oid = relation.relowner"
        " where namespace.nspname = %s and relation.relname = %s and relation.relkind in ('r', 'p')",
        (crm, table))
    row = cursor.fetchone()
    if row is None:
        return [f"{qualified} does not exist: set LEADLINK_CRM_SCHEMA to the schema of the CRM's"
                " tables (Supabase: public) and LEADLINK_CRM_DATABASE_URL to the CRM's database"]
    oid, owner, owns, rls, forced = row
    problems = []
    if not owns:
        problems.append(f"{role} does not own {qualified} (owner: {owner}): the indexes the"
                        f" functions need can only be created by the owner; run `leadlink crm"
                        f" install` as {owner} (on Supabase: the postgres role's connection string)")
    cursor.execute("select attname from pg_attribute where attrelid = %s and attnum > 0"
                   " and not attisdropped", (oid,))
    present = {name for (name,) in cursor.fetchall()}
    missing = [name for name in REQUIRED_COLUMNS[table] if name not in present]
    if missing:
        problems.append(f"{qualified} has no column {', '.join(missing)}: the functions read"
                        " the CRM's tables as docs/crm-functions.md lists them")
    for privilege in TABLE_PRIVILEGES[table]:
        cursor.execute("select has_table_privilege(%s, %s)", (oid, privilege))
        if not cursor.fetchone()[0]:
            problems.append(f"{role} lacks {privilege} on {qualified} (the functions run with the"
                            f" installing role's rights): grant {privilege.lower()} on"
                            f" {qualified} to {role}, or install as its owner")
    if rls and (forced or not owns) and not bypass_rls:
        problems.append(f"row-level security applies to {role} on {qualified}: the functions"
                        f" would see or write only what its policies allow; install as the"
                        f" table's owner without FORCE ROW LEVEL SECURITY, or as a role with"
                        f" BYPASSRLS")
    if table == "customers" and "id" in present:
        cursor.execute("select attidentity <> '' or atthasdef from pg_attribute"
                       " where attrelid = %s and attname = 'id'", (oid,))
        if not cursor.fetchone()[0]:
            problems.append(f"{qualified}.id has no default or identity: find_or_create cannot"
                            " give a new customer an id")
    return problems


def _schema_problems(cursor: psycopg2.extensions.cursor, role: str, plan: InstallPlan) -> list[str]:
    schema = plan.function_schema
    cursor.execute("select owner.rolname, pg_has_role(current_user, namespace.nspowner, 'USAGE'),"
                   " has_schema_privilege(namespace.oid, 'CREATE')"
                   " from pg_namespace as namespace inner join pg_roles as owner"
                   " on owner.oid = namespace.nspowner where namespace.nspname = %s", (schema,))
    row = cursor.fetchone()
    if row is None:
        cursor.execute("select has_database_privilege(current_database(), 'CREATE')")
        if not cursor.fetchone()[0]:
            return [f"{role} cannot create schema {schema}: grant create on database"
                    f" {{database}} to {role}, or create the schema first"
                    f" (create schema {schema} authorization {role})"]
        return []
    owner, owns, can_create = row
    if not (owns or can_create):
        return [f"{role} cannot create objects in schema {schema} (owner: {owner}): grant create"
                f" on schema {schema} to {role}, or install as {owner}"]
    problems = []
    objects = [(signature, "function", "select owner.rolname, pg_has_role(current_user,"
                " proc.proowner, 'USAGE') from pg_proc as proc inner join pg_roles as owner"
                " on owner.oid = proc.proowner where proc.oid = to_regprocedure(%s)")
               for signature in plan.all_functions]
    objects += [(table.relation, "table", "select owner.rolname, pg_has_role(current_user,"
                 " relation.relowner, 'USAGE') from pg_class as relation inner join pg_roles as"
                 " owner on owner.oid = relation.relowner where relation.oid = to_regclass(%s)")
                for table in plan.tables]
    for name, kind, statement in objects:
        cursor.execute(statement, (name,))
        found = cursor.fetchone()
        if found is not None and not found[1]:
            problems.append(f"{kind} {name} belongs to {found[0]}: only its owner can replace it;"
                            f" install as {found[0]}")
    return problems


def check(cursor: psycopg2.extensions.cursor, plan: InstallPlan, grant_to: Sequence[str]) -> None:
    """Raise PreflightError naming every right the current role lacks for the install."""
    cursor.execute("select current_user, current_database(), rolbypassrls or rolsuper"
                   " from pg_roles where rolname = current_user")
    role, database, bypass_rls = cursor.fetchone()
    problems = [problem.replace("{database}", database)
                for problem in _schema_problems(cursor, role, plan)]
    for table in REQUIRED_COLUMNS:
        problems += _table_problems(cursor, role, bool(bypass_rls), plan.crm_schema, table)
    for grantee in grant_to:
        cursor.execute("select 1 from pg_roles where rolname = %s", (grantee,))
        if cursor.fetchone() is None:
            problems.append(f"role {grantee} (--grant) does not exist")
    if problems:
        raise PreflightError(problems)

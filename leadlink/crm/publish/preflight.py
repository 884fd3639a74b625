"""Before publish writes anything: can this role do what the plan needs?

Table privileges (select / insert / update / delete on the CRM tables, usage on the id sequences
new rows draw from), row-level security (when it applies to the role: neither superuser, nor
BYPASSRLS, nor the owner of a table without FORCE, a permissive policy must allow each command),
and ownership for the DDL (the merged_into column, the foreign key and NOT NULL). A missing right is
a PreflightError naming it and the fix; nothing has been written when it is raised.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2.extensions

from leadlink.crm.publish import queries
from leadlink.crm.publish.target import PUBLISH_SCHEMA, PublishTarget

CRM_TABLES = ("sources", "customers", "leads_master", "lead_sources_history")
COMMANDS = {"select": "SELECT", "insert": "INSERT", "update": "UPDATE", "delete": "DELETE"}


class PreflightError(RuntimeError):
    pass


@dataclass(frozen=True)
class Need:
    table: str
    command: str  # select | insert | update | delete | own | sequence
    why: str


def needs_for_plan(plan: dict) -> list[Need]:
    """The rights an apply of `plan` uses (its undo later needs the reverse ones)."""
    customers, leads = plan["customers"], plan["leads_master"]
    new_leads = sum(figures["insert"] for figures in plan["new_leads"].values())
    archive = plan["unlinkable"]["archive"]
    needs = [Need(table, "select", "publish reads it") for table in CRM_TABLES]
    if customers["insert"]:
        needs.append(Need("customers", "insert", f"{customers['insert']} new customer(s)"))
    if customers["update"] or customers["mark_merged"]:
        needs.append(Need("customers", "update", "customers to update or mark as merged"))
    if plan["options"].get("delete_merged") and customers["mark_merged"]:
        needs.append(Need("customers", "delete", "--delete-merged"))
    if leads["set_customer_id"] or leads["change_customer_id"] or leads["repoint_to_survivor"]:
        needs.append(Need("leads_master", "update", "leads_master.customer_id to set"))
    if new_leads:
        needs += [Need("leads_master", "insert", f"{new_leads} new lead(s)"),
                  Need("leads_master", "sequence", "new leads take ids from its identity")]
    if plan["history_rows"]["insert"]:
        needs.append(Need("lead_sources_history", "insert", "lead_sources_history rows"))
    if archive:
        needs += [Need("leads_master", "delete", "--archive-unlinkable"),
                  Need("lead_sources_history", "delete", "--archive-unlinkable")]
    if new_leads or archive or plan["sources_counters"]["recount"]:
        needs.append(Need("sources", "update", "the sources counters"))
    if customers["mark_merged"]:
        needs.append(Need("customers", "own", "the merged_into_customer_id column may be added"))
    if any(item["state"] == "can_add" for item in plan["constraints"]):
        needs.append(Need("leads_master", "own", "the foreign key / NOT NULL on customer_id"))
        needs.append(Need("customers", "references", "the foreign key to customers.id"))
    return needs


# What undoing a change needs: an insert is undone by a delete, a delete by an insert, an update by
# an update; reading and DDL need what they needed to apply.
UNDO_COMMAND = {"insert": "delete", "delete": "insert", "update": "update", "select": "select",
                "own": "own", "references": "references"}


def needs_for_undo(plan: dict) -> list[Need]:
    """The rights an undo of a batch applied with `plan` uses (sequences are not drawn from)."""
    return [Need(need.table, UNDO_COMMAND[need.command], f"undo: {need.why}")
            for need in needs_for_plan(plan) if need.command in UNDO_COMMAND]


def check_schema(target: PublishTarget, cursor: psycopg2.extensions.cursor) -> None:
    """leadlink_publish (audit and scratch tables) and the CRM schema are usable by this role."""
    cursor.execute(queries.text("preflight_schema"), {
        "publish_schema": PUBLISH_SCHEMA, "crm_schema": target.crm_schema,
        "batches": f"{PUBLISH_SCHEMA}.batches"})
    role, database, exists, can_create, can_write, can_use_crm = cursor.fetchone()
    problems = []
    if not can_use_crm:
        problems.append(f"USAGE on schema {target.crm_schema}: grant usage on schema"
                        f" {target.crm_schema} to {role}")
    if not can_create:
        problems.append(
            f"CREATE on schema {PUBLISH_SCHEMA} (its scratch tables): grant create on schema"
            f" {PUBLISH_SCHEMA} to {role}" if exists else
            f"CREATE on database {database} (for schema {PUBLISH_SCHEMA}): create the schema"
            f" as an owner role (`create schema {PUBLISH_SCHEMA} authorization {role}`) or run"
            " publish as the database owner")
    if not can_write:
        problems.append(f"INSERT and UPDATE on {PUBLISH_SCHEMA}'s tables: grant all on all tables"
                        f" in schema {PUBLISH_SCHEMA} to {role}")
    if problems:
        raise PreflightError(_message(role, problems))


def check_plan(target: PublishTarget, cursor: psycopg2.extensions.cursor, plan: dict,
               *, undo: bool = False) -> None:
    cursor.execute(queries.text("preflight_tables"),
                   {"crm_schema": target.crm_schema, "tables": list(CRM_TABLES)})
    names = [column.name for column in cursor.description]
    facts = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    cursor.execute("select current_user")
    role = cursor.fetchone()[0]
    problems: list[str] = []
    for need in (needs_for_undo(plan) if undo else needs_for_plan(plan)):
        problem = _missing(target, facts[need.table], need, role)
        if problem and problem not in problems:
            problems.append(problem)
    if problems:
        raise PreflightError(_message(role, problems, "undo" if undo else "publish"))


def _missing(target: PublishTarget, fact: dict, need: Need, role: str) -> str | None:
    table = f"{target.crm_schema}.{need.table}"
    owner = fact["owner_name"]
    if need.command == "own":
        if fact["is_owner"]:
            return None
        return (f"ownership of {table} ({need.why}): it is owned by {owner}; run publish as"
                f" {owner} (on Supabase: postgres) or `alter table {table} owner to {role}`")
    if need.command == "sequence":
        if fact["can_use_id_sequence"] is not False:
            return None
        return (f"USAGE on the id sequence of {table} ({need.why}): grant usage on all sequences"
                f" in schema {target.crm_schema} to {role}")
    if not fact[f"can_{need.command}"]:
        return (f"{need.command.upper()} on {table} ({need.why}): grant {need.command} on {table}"
                f" to {role}")
    if need.command == "references" or not fact["under_rls"]:
        return None
    allowed = set(fact["policy_commands"])
    for command in dict.fromkeys(("select", need.command)):
        if COMMANDS[command] not in allowed and "ALL" not in allowed:
            return (f"a row-level security policy allowing {COMMANDS[command]} on {table} for"
                    f" {role} ({need.why}; RLS is on and {role} neither owns the table nor has"
                    f" BYPASSRLS): run publish as {owner} or a BYPASSRLS role (on Supabase:"
                    f" postgres), or `create policy ... on {table} for {command} to {role}"
                    f" {'with check' if command == 'insert' else 'using'} (true)`")
    return None


def _message(role: str, problems: list[str], action: str = "publish") -> str:
    return (f"publish preflight: role {role} lacks what this {action} needs; nothing was written:\n"
            + "\n".join(f"  - {problem}" for problem in problems))

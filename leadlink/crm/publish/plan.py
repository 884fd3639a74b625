"""The plan: what `publish --apply` would change, counted from the work tables (`sql/plan_*.sql`),
as a dict (`--json`) and as text. Computing it writes nothing to the CRM's tables."""

from __future__ import annotations

import psycopg2.extensions

from leadlink.crm.publish import constraints, queries, work
from leadlink.crm.publish.steps import ApplyOptions
from leadlink.crm.publish.target import PublishTarget
from leadlink.crm.publish.workspace import Workspace


def _predict_constraints(target: PublishTarget, cursor: psycopg2.extensions.cursor,
                         workspace: Workspace, options: ApplyOptions,
                         archivable: int) -> list[dict]:
    """The constraints as they would stand after the steps."""
    state = constraints.read_state(target, cursor)
    missing = nulls = 0
    if not state.complete:
        parts = {**target.schemas(), **workspace.parts()}
        missing, nulls = constraints.count_violations(
            target, cursor, queries.fragment("plan_final_leads", parts),
            queries.fragment("plan_final_customers", parts),
            {"archiving": options.archive_unlinkable})
    planned: list[dict] = []
    if state.fk_name and state.fk_validated:
        planned.append({"name": state.fk_name, "kind": "foreign_key", "state": "present",
                        "reason": ""})
    elif missing:
        planned.append({"name": constraints.FK_NAME, "kind": "foreign_key", "state": "blocked",
                        "reason": f"{missing} lead(s) would point at a missing customer"})
    else:
        planned.append({"name": state.fk_name or constraints.FK_NAME, "kind": "foreign_key",
                        "state": "can_add", "reason": "every customer_id exists in customers"})
    if state.not_null:
        planned.append({"name": constraints.NOT_NULL, "kind": "not_null", "state": "present",
                        "reason": ""})
    elif nulls:
        hint = ("" if options.archive_unlinkable or not archivable
                else f"; {archivable} unlinkable, --archive-unlinkable moves them to the archive")
        planned.append({"name": constraints.NOT_NULL, "kind": "not_null", "state": "blocked",
                        "reason": f"{nulls} lead(s) would have no customer_id{hint}"})
    else:
        planned.append({"name": constraints.NOT_NULL, "kind": "not_null", "state": "can_add",
                        "reason": "every lead would have a customer_id"})
    return planned


def build_plan(target: PublishTarget, cursor: psycopg2.extensions.cursor, workspace: Workspace,
               options: ApplyOptions, staged: dict[str, int], applying: bool = False) -> dict:
    """Build the work tables from the staged marts and count them (no commit). applying: the
    plan of an apply, whose insert checks each new lead against the CRM's leads itself, so the
    plan counts the new leads without that scan of every CRM lead (a dry run does it)."""
    work.build_customer_work(target, cursor, workspace)
    work.build_lead_work(target, cursor, workspace)
    work.build_new_lead_work(target, cursor, workspace, check_taken=not applying)
    blocking_tables = work.build_archive_work(target, cursor, workspace)
    parts = {**target.schemas(), **workspace.parts()}

    cursor.execute(queries.statement("plan_counts", parts))
    names = [column.name for column in cursor.description]
    counts = {name: int(value) for name, value in zip(names, cursor.fetchone(), strict=True)}
    cursor.execute(queries.statement("plan_new_leads", parts))
    new_leads = {source: {"insert": int(count), "without_crm_source": int(orphans)}
                 for source, count, orphans in cursor.fetchall()}
    cursor.execute(queries.statement("plan_counters", parts))
    counters = int(cursor.fetchone()[0])
    archivable = counts["archivable"]
    return {
        "crm_schema": target.crm_schema,
        "crm_database": "separate" if target.separate_database else "same as leadlink",
        "options": options.as_dict(),
        "staged": staged,
        "customers": {"insert": counts["customer_inserts"], "update": counts["customer_updates"],
                      "matched_by_phone": counts["matched_by_phone"],
                      "conflicts_left_alone": counts["customer_conflicts"],
                      "mark_merged": counts["merge_count"]},
        "leads_master": {"set_customer_id": counts["links_set"],
                         "change_customer_id": counts["links_changed"],
                         "repoint_to_survivor": counts["repoint"],
                         "conflicts_left_alone": counts["link_conflicts"]},
        "new_leads": new_leads,
        "history_rows": {"insert": counts["history_rows"]},
        "unlinkable": {"legacy_leads": counts["unlinkable"],
                       "archive": archivable if options.archive_unlinkable else 0,
                       "archivable": archivable,
                       "kept_because_referenced_by": blocking_tables},
        "sources_counters": {"recount": counters},
        "constraints": _predict_constraints(target, cursor, workspace, options, archivable),
    }


def render(plan: dict) -> str:
    customers, leads = plan["customers"], plan["leads_master"]
    lines = [
        f"publish plan for CRM schema {plan['crm_schema']} ({plan['crm_database']} database)",
        f"  customers: insert {customers['insert']}, update {customers['update']},"
        f" mark merged {customers['mark_merged']}, matched by phone"
        f" {customers['matched_by_phone']}, left alone (edited since the build)"
        f" {customers['conflicts_left_alone']}",
        f"  leads_master.customer_id: set {leads['set_customer_id']}, change"
        f" {leads['change_customer_id']}, repoint to survivor {leads['repoint_to_survivor']},"
        f" left alone (edited since the build) {leads['conflicts_left_alone']}",
    ]
    if plan["new_leads"]:
        for source, figures in plan["new_leads"].items():
            extra = (f" ({figures['without_crm_source']} without a CRM sources row)"
                     if figures["without_crm_source"] else "")
            lines.append(f"  new leads from {source}: insert {figures['insert']}{extra}")
    else:
        lines.append("  new leads: none")
    lines.append(f"  lead_sources_history: insert {plan['history_rows']['insert']}")
    unlinkable = plan["unlinkable"]
    lines.append(f"  unlinkable legacy leads: {unlinkable['legacy_leads']}, archive"
                 f" {unlinkable['archive']} (archivable {unlinkable['archivable']})")
    if unlinkable["kept_because_referenced_by"]:
        lines.append("    kept in place while referenced by: "
                     + ", ".join(unlinkable["kept_because_referenced_by"]))
    lines.append(f"  sources counters: {plan['sources_counters']['recount']} source(s) off their"
                 " leads_master count now (recounted after the inserts; today cut in IST)")
    for item in plan["constraints"]:
        reason = f": {item['reason']}" if item["reason"] else ""
        lines.append(f"  constraint {item['name']} ({item['kind']}): {item['state']}{reason}")
    return "\n".join(lines)

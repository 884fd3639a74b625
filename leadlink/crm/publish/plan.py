"""The dry run: what `publish --apply` would change, computed from the work tables (temp tables
only, so nothing in the CRM changes), as a dict (`--json`) and as text."""

from __future__ import annotations

import psycopg2.extensions

from leadlink.crm.publish import constraints, work
from leadlink.crm.publish.steps import MERGED_COLUMN, ApplyOptions
from leadlink.crm.publish.target import PublishTarget


def _one(cursor: psycopg2.extensions.cursor, statement: str) -> tuple:
    cursor.execute(statement)
    return cursor.fetchone()


def build_plan(target: PublishTarget, conn: psycopg2.extensions.connection,
               options: ApplyOptions, staged: dict[str, int]) -> dict:
    with conn.cursor() as cursor:
        merged_column = work.has_column(cursor, target.crm_schema, "customers", MERGED_COLUMN)
        work.build_customer_work(target, cursor, merged_column)
        work.build_lead_work(target, cursor)
        work.build_new_lead_work(target, cursor)
        blocking_tables = work.build_archive_work(target, cursor)

        inserts, matched = _one(cursor, """
            select
                (select count(*) from w_customer_inserts),
                (select count(*) from pub_customer_targets
                 where not in_crm and target_id <> customer_id)
        """)
        updates, conflicts = _one(cursor, "select count(*) filter (where cas_ok),"
                                          " count(*) filter (where not cas_ok)"
                                          " from w_customer_updates")
        merges = _one(cursor, "select count(*) from w_merges")[0]
        link_set, link_change, link_conflicts = _one(cursor, """
            select
                count(*) filter (where cas_ok and current_customer_id is null),
                count(*) filter (where cas_ok and current_customer_id is not null),
                count(*) filter (where not cas_ok)
            from w_lead_links
        """)
        repoint = _one(cursor, "select count(*) from w_repoint")[0]
        cursor.execute("select source, count(*), count(*) filter (where source_id is null)"
                       " from w_new_leads group by source order by source")
        new_leads = {source: {"insert": int(count), "without_crm_source": int(orphans)}
                     for source, count, orphans in cursor.fetchall()}
        history = _one(cursor, "select count(*) from w_history")[0]
        archive = _one(cursor, "select count(*) from w_archive")[0]
        unlinkable = _one(cursor, "select count(*) from pub_unlinkable")[0]

        # constraints as they would stand after the steps above
        state = constraints.read_state(target, cursor)
        missing, nulls = _one(cursor, target.sql("""
            with final as (
                select
                    lm.id,
                    coalesce(case when links.cas_ok then links.new_customer_id end,
                             repoint.new_customer_id, lm.customer_id) as customer_id,
                    archive.lead_id is not null as archived
                from {crm}.leads_master as lm
                left join w_lead_links as links on links.lead_id = lm.id
                left join w_repoint as repoint on repoint.lead_id = lm.id
                left join w_archive as archive on archive.lead_id = lm.id
            )
            select
                count(*) filter (
                    where final.customer_id is not null
                        and not exists (select from {crm}.customers as c
                                        where c.id = final.customer_id)
                        and not exists (select from w_customer_inserts as i
                                        where i.customer_id = final.customer_id)
                ),
                count(*) filter (where final.customer_id is null and not (final.archived and ARCHIVING))
            from final
        """.replace("ARCHIVING", "true" if options.archive_unlinkable else "false")))
        planned: list[dict] = []
        if state.fk_name and state.fk_validated:
            planned.append({"name": state.fk_name, "kind": "foreign_key", "state": "present",
                            "reason": ""})
        elif missing:
            planned.append({"name": constraints.FK_NAME, "kind": "foreign_key",
                            "state": "blocked",
                            "reason": f"{missing} lead(s) would point at a missing customer"})
        else:
            planned.append({"name": state.fk_name or constraints.FK_NAME, "kind": "foreign_key",
                            "state": "can_add", "reason": "every customer_id exists in customers"})
        if state.not_null:
            planned.append({"name": "customer_id not null", "kind": "not_null",
                            "state": "present", "reason": ""})
        elif nulls:
            hint = ("" if options.archive_unlinkable or not archive
                    else f"; {archive} unlinkable, --archive-unlinkable moves them to the archive")
            planned.append({"name": "customer_id not null", "kind": "not_null",
                            "state": "blocked",
                            "reason": f"{nulls} lead(s) would have no customer_id{hint}"})
        else:
            planned.append({"name": "customer_id not null", "kind": "not_null",
                            "state": "can_add", "reason": "every lead would have a customer_id"})
    conn.commit()
    return {
        "crm_schema": target.crm_schema,
        "crm_database": "separate" if target.separate_database else "same as leadlink",
        "options": options.as_dict(),
        "staged": staged,
        "customers": {"insert": int(inserts), "update": int(updates),
                      "matched_by_phone": int(matched),
                      "conflicts_left_alone": int(conflicts), "mark_merged": int(merges)},
        "leads_master": {"set_customer_id": int(link_set),
                         "change_customer_id": int(link_change),
                         "repoint_to_survivor": int(repoint),
                         "conflicts_left_alone": int(link_conflicts)},
        "new_leads": new_leads,
        "history_rows": {"insert": int(history)},
        "unlinkable": {"legacy_leads": int(unlinkable),
                       "archive": int(archive) if options.archive_unlinkable else 0,
                       "archivable": int(archive),
                       "kept_because_referenced_by": blocking_tables},
        "constraints": planned,
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
    lines.append("  sources counters: recounted from leads_master (today cut in IST)")
    for item in plan["constraints"]:
        reason = f": {item['reason']}" if item["reason"] else ""
        lines.append(f"  constraint {item['name']} ({item['kind']}): {item['state']}{reason}")
    return "\n".join(lines)

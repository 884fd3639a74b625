"""`leadlink lookup PHONE`: the receptionist's search. A phone in any format -> the customer and all
of their leads across sources, branches and the CRM's own rows, with whether the CRM links each
lead to the customer yet.

The phone is normalised in the database by the installed function built from the dbt macro (the
one normaliser); the answer comes from the marts' indexes (customers.phone_e164,
leads.customer_id) and the CRM's leads_master by customer_id, so leads that publish wrote or
staff linked since the last build show too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql

from leadlink.identity.phone import function_schema
from loaders.settings import Settings

CUSTOMER_COLUMNS = ("customer_id", "phone_e164", "full_name", "email", "city", "first_seen_at",
                    "last_seen_at", "lead_count", "sources")
LEAD_COLUMNS = ("lead_id", "legacy_lead_id", "source", "external_lead_id", "branch_id", "status",
                "created_at", "last_touched_at", "touch_count", "touch_sources")


class LookupUnavailable(RuntimeError):
    """The database cannot answer (marts not built, normaliser functions missing)."""


@dataclass
class LookupResult:
    phone_e164: str | None
    unusable_reason: str | None
    customer: dict[str, Any] | None = None
    leads: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"phone_e164": self.phone_e164, "customer": self.customer, "leads": self.leads}


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _rows(cursor: psycopg2.extensions.cursor, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{name: _plain(value) for name, value in zip(columns, row, strict=True)} for row in cursor.fetchall()]


def lookup(settings: Settings, cursor: psycopg2.extensions.cursor, phone: str,
           default_region: str = "IN") -> LookupResult:
    """Answer one lookup on an open cursor (callers keep the connection for the next one)."""
    try:
        cursor.execute(
            sql.SQL("select phone_e164, unusable_reason from {}.parse_phone(%s, %s)").format(
                sql.Identifier(function_schema(settings))),
            (phone.replace("\x00", ""), default_region))
    except psycopg2.errors.UndefinedFunction as error:
        raise LookupUnavailable("the phone normaliser functions are not installed: run"
                                " `leadlink dbt build` first") from error
    phone_e164, reason = cursor.fetchone()
    result = LookupResult(phone_e164, reason)
    if phone_e164 is None or reason is not None:
        return result  # junk or invalid: nobody's number
    analytics = sql.Identifier(settings.analytics_schema)
    try:
        cursor.execute(sql.SQL("select {} from {}.customers where phone_e164 = %s").format(
            sql.SQL(", ").join(map(sql.Identifier, CUSTOMER_COLUMNS)), analytics), (phone_e164,))
    except psycopg2.errors.UndefinedTable as error:
        raise LookupUnavailable(f"{settings.analytics_schema}.customers does not exist: run"
                                " `leadlink dbt build` first") from error
    customers = _rows(cursor, CUSTOMER_COLUMNS)
    if not customers:
        return result
    result.customer = customers[0]
    cursor.execute(
        sql.SQL(
            "select {lead_columns}, crm_leads.customer_id"
            " from {analytics}.leads as leads"
            " left join {crm}.leads_master as crm_leads on crm_leads.id = leads.legacy_lead_id"
            " where leads.customer_id = %s"
            " order by leads.created_at desc, leads.lead_id"
        ).format(
            lead_columns=sql.SQL(", ").join(sql.SQL("leads.") + sql.Identifier(name)
                                            for name in LEAD_COLUMNS),
            analytics=analytics, crm=sql.Identifier(settings.crm_schema)),
        (result.customer["customer_id"],))
    leads = _rows(cursor, LEAD_COLUMNS + ("crm_customer_id",))
    # the CRM's own rows of this customer: leads publish wrote or staff linked since the build
    cursor.execute(
        sql.SQL("select id, external_lead_id, branch_id, status, created_at"
                " from {crm}.leads_master where customer_id = %s order by id").format(
            crm=sql.Identifier(settings.crm_schema)),
        (result.customer["customer_id"],))
    crm_rows = {row[0]: row for row in cursor.fetchall()}
    customer_id = result.customer["customer_id"]
    unmatched = {row[1]: row[0] for row in crm_rows.values()
                 if row[1] is not None and row[0] not in {lead["legacy_lead_id"] for lead in leads}}
    for lead in leads:
        if lead["legacy_lead_id"] is None and lead["external_lead_id"] in unmatched:
            # a new lead that publish has written since the build: it has a CRM id now
            lead["legacy_lead_id"] = unmatched.pop(lead["external_lead_id"])
            lead["crm_customer_id"] = customer_id
        lead["linked_in_crm"] = (lead["legacy_lead_id"] is not None
                                 and lead["crm_customer_id"] == customer_id)
        lead["in_last_build"] = True
    listed = {lead["legacy_lead_id"] for lead in leads}
    leads.extend(
        {"lead_id": None, "legacy_lead_id": lead_id, "source": None,
         "external_lead_id": external_id, "branch_id": branch_id, "status": status,
         "created_at": _plain(created_at), "last_touched_at": None, "touch_count": None,
         "touch_sources": None, "crm_customer_id": customer_id, "linked_in_crm": True,
         "in_last_build": False}
        for lead_id, external_id, branch_id, status, created_at in crm_rows.values()
        if lead_id not in listed)
    result.leads = leads
    return result


def render(result: LookupResult, phone: str) -> list[str]:
    if result.phone_e164 is None:
        return [f"{phone!r} is not a phone number ({result.unusable_reason})"]
    if result.unusable_reason is not None:
        return [f"{result.phone_e164} identifies nobody ({result.unusable_reason})"]
    if result.customer is None:
        return [f"{result.phone_e164}: no customer yet"]
    customer = result.customer
    lines = [
        f"{customer['phone_e164']}  customer {customer['customer_id']}  "
        f"{customer['full_name'] or '(no name)'}"
        + "".join(f"  {customer[key]}" for key in ("email", "city") if customer[key]),
        f"  {customer['lead_count']} lead(s) via {', '.join(customer['sources']) or '-'};"
        f" first seen {(customer['first_seen_at'] or '-')[:10]},"
        f" last seen {(customer['last_seen_at'] or '-')[:10]}",
    ]
    for lead in result.leads:
        crm = ("new (not in the CRM yet)" if lead["legacy_lead_id"] is None else
               f"CRM #{lead['legacy_lead_id']}"
               + ("" if lead["linked_in_crm"] else " (customer_id not set in the CRM yet)")
               + ("" if lead["in_last_build"] else " (added since the last build)"))
        touches = "-" if lead["touch_count"] is None else f"{lead['touch_count']} touch(es)"
        lines.append(f"  {(lead['created_at'] or '-')[:16]}  {lead['source'] or '-':<10}  branch "
                     f"{lead['branch_id'] if lead['branch_id'] is not None else '-'}  "
                     f"{lead['status'] or '-':<11}  {touches}  {crm}")
    return lines

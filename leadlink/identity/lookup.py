"""`leadlink lookup PHONE`: the receptionist's search, a thin client of the CRM database's function
leadlink.find_customer_with_leads_by_phone (installed by `leadlink crm install`, rendered from the
dbt macros). The same function answers the app (supabase.rpc) and `GET /lookup`: one
implementation, reading the CRM's tables as they are this second.

The answer: {"phone_e164", "unusable_reason", "customer": {...} | null, "leads": [...]}; the
customer is the lowest customers.id of the person (any writing of the number), the leads every
leads_master row of the person: by stored phone in any writing, by customer_id, or by alternate
phone when the stored one names nobody.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import psycopg2.errors
import psycopg2.extensions

from loaders.settings import Settings

CRM_FUNCTION = "leadlink.find_customer_with_leads_by_phone"
INSTALL_HINT = "run `leadlink crm install` against the CRM database first"


class LookupUnavailable(RuntimeError):
    """The CRM database cannot answer (functions not installed, no right to call them)."""


@dataclass
class LookupResult:
    phone_e164: str | None
    unusable_reason: str | None
    customer: dict[str, Any] | None = None
    leads: list[dict[str, Any]] = field(default_factory=list)

    @property
    def found(self) -> bool:
        """The CRM knows this person: a customer row or any lead."""
        return self.customer is not None or bool(self.leads)

    def as_dict(self) -> dict[str, Any]:
        return {"phone_e164": self.phone_e164, "unusable_reason": self.unusable_reason,
                "customer": self.customer, "leads": self.leads}


def call_lookup_function(cursor: psycopg2.extensions.cursor, phone: str,
                         default_region: str = "IN") -> dict[str, Any]:
    """The function's JSON answer as a dict (raises LookupUnavailable when it cannot be called)."""
    try:
        cursor.execute(f"select {CRM_FUNCTION}(%s, %s)::text", (phone.replace("\x00", ""), default_region))
    except (psycopg2.errors.UndefinedFunction, psycopg2.errors.InvalidSchemaName) as error:
        raise LookupUnavailable(f"{CRM_FUNCTION} is not installed: {INSTALL_HINT}") from error
    except psycopg2.errors.InsufficientPrivilege as error:
        raise LookupUnavailable(f"this role may not call {CRM_FUNCTION}: grant it with"
                                " `leadlink crm install --grant ROLE`") from error
    return json.loads(cursor.fetchone()[0])


def lookup(settings: Settings | None, cursor: psycopg2.extensions.cursor, phone: str,
           default_region: str = "IN") -> LookupResult:
    """Answer one lookup on an open cursor of the CRM database (callers keep the connection for
    the next one). `settings` is not needed any more; it stays for existing callers."""
    answer = call_lookup_function(cursor, phone, default_region)
    return LookupResult(answer.get("phone_e164"), answer.get("unusable_reason"),
                        answer.get("customer"), answer.get("leads") or [])


def _when(value: str | None) -> str:
    return (value or "-")[:16].replace("T", " ")


def render(result: LookupResult, phone: str) -> list[str]:
    if result.phone_e164 is None:
        return [f"{phone!r} is not a phone number ({result.unusable_reason})"]
    if result.unusable_reason is not None:
        return [f"{result.phone_e164} identifies nobody ({result.unusable_reason})"]
    if not result.found:
        return [f"{result.phone_e164}: nobody in the CRM yet"]
    lines = []
    customer = result.customer
    if customer is None:
        lines.append(f"{result.phone_e164}  no customer row yet")
    else:
        lines.append(f"{result.phone_e164}  customer {customer['id']}  "
                     f"{customer.get('full_name') or '(no name)'}"
                     + "".join(f"  {customer[key]}" for key in ("email", "city") if customer.get(key)))
        duplicates = customer.get("duplicate_customer_ids") or []
        if duplicates:
            lines.append(f"  same person also stored as customer(s) {', '.join(map(str, duplicates))}")
    lines.append(f"  {len(result.leads)} lead(s)")
    for lead in result.leads:
        link = ("linked" if lead.get("linked") else
                "customer_id not set" if lead.get("customer_id") is None else
                f"customer_id {lead['customer_id']}")
        branch = lead.get("branch_id")
        lines.append(f"  {_when(lead.get('created_at'))}  lead {lead['id']}  source"
                     f" {lead.get('source_id') if lead.get('source_id') is not None else '-'}  branch"
                     f" {branch if branch is not None else '-'}  {lead.get('status') or '-':<11}  {link}"
                     f"  (by {lead.get('matched_by')})")
    return lines

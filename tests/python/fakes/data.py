"""Realistic records for the fakes (recorded shapes from shared/reference/source-payloads.md)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

IST = timezone(timedelta(hours=5, minutes=30))


def make_calls(count: int, newest: datetime, step: timedelta = timedelta(minutes=7),
               seed: int = 6, prefix: str = "c") -> list[dict[str, Any]]:
    rng = random.Random(seed)
    calls = []
    for index in range(count):
        moment = (newest - step * index).astimezone(IST)
        missed = rng.random() < 0.3
        calls.append({
            "uuid": f"{prefix}{index:05d}-d294-163e-66a4-2bb4a1b495d4",
            "knowlarity_number": "+918069001999",
            "agent_number": "NA" if missed else "+919845000111",
            "destination": "" if missed else "Sales Queue",
            "start_time": moment.strftime("%Y-%m-%d %H:%M:%S+05:30"),
            "call_duration": 0 if missed else rng.randint(5, 600),
            "call_recording": "",
            "business_call_type": "Missed Call" if missed else "Call Group",
            "Call_Type": rng.choice([0, "0", 1]),
            "customer_number": rng.choice(["+9198765", "98765", "098765", ""]) +
            f"{rng.randint(10000, 99999)}",
        })
    return calls


def make_leads(form_id: str, count: int, newest: datetime,
               step: timedelta = timedelta(minutes=11), seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed + int(form_id[-3:]))
    leads = []
    for index in range(count):
        moment = (newest - step * index).astimezone(UTC)
        lead: dict[str, Any] = {
            "id": f"{form_id[-4:]}{index:011d}",
            "created_time": moment.strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "field_data": [
                {"name": "full_name", "values": [f"Person {index}"]},
                {"name": "phone_number", "values": [f"+9198{rng.randint(10000000, 99999999)}"]},
                {"name": "which_car_model_are_you_interested_in?", "values": ["mg_hector"]},
            ],
            "form_id": form_id, "is_organic": index % 3 == 0, "platform": "fb",
        }
        if not lead["is_organic"]:
            lead.update({"ad_id": "120210000000037314", "ad_name": "Hector Dec",
                         "adset_id": "120210000000104349", "adset_name": "Bengaluru 25-45",
                         "campaign_id": "120210000000000001", "campaign_name": "Q4"})
        leads.append(lead)
    return leads

"""Generate the demo/test sample data under samples/ and the branch seeds (deterministic).

    python scripts/generate_samples.py            # rewrites samples/ and seeds/*_branches.csv
    python scripts/generate_samples.py --out DIR --seeds-dir DIR2   # elsewhere

Standard library only. About 120 people: many call the showroom (Knowlarity) and fill a Meta lead
form, their phone written differently each time; some call several times; a few have foreign or
landline numbers or type junk. The CRM's own export (samples/legacy) holds the older records as
today's scripts inserted them: phones stored by the two bad normalisers, customers backfilled one
per stored string. samples/README.md says what each file exercises.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

SEED = 20251206
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "samples"
DEFAULT_SEEDS = ROOT / "seeds"
IST = timezone(timedelta(hours=5, minutes=30))
UTC = UTC

# ---- showrooms, numbers, forms ------------------------------------------------------------------
BRANCHES = {1: "Indiranagar", 2: "Whitefield", 3: "Koramangala"}
DEFAULT_BRANCH = 1
# SR/DID numbers: the last one is deliberately missing from the seed (goes to the default branch).
KNOWLARITY_NUMBERS = {"+918069001001": 1, "+918069001002": 2, "+918069001003": 3,
                      "+918069001999": None}
FORMS = {  # form id -> (name, branch or None = deliberately unmapped)
    "911000000000001": ("Hector test drive", 1),
    "911000000000002": ("Astor offers (2024 form)", 2),
    "911000000000003": ("ZS EV enquiry", 3),
    "911000000000004": ("Service camp registration", None),
    "911000000000005": ("Windsor EV launch (Instagram)", 1),
}
PAGE_FORMS = ["911000000000001", "911000000000002", "911000000000003", "911000000000004"]
AGENTS = ["+919008000111", "+919008000222", "+919008000333"]
SOUNDS = ["Welcome Sound", "IVR Main Menu", "After Hours Message"]
ACCOUNT = "7231"
ACCESS_TOKEN = "EAAGSAMPLETOKENNOTREAL"  # a fake token: paging.next URLs embed one

FIRST = ["Aarav", "Vivaan", "Aditya", "Vihaan", "Arjun", "Sai", "Reyansh", "Krishna", "Ishaan",
         "Ananya", "Diya", "Saanvi", "Aadhya", "Kiara", "Priya", "Neha", "Rohit", "Karan", "Meera",
         "Pooja", "Rahul", "Sneha", "Vikram", "Lakshmi", "Imran", "Fatima", "Joseph", "Gurpreet",
         "Suresh", "Kavya", "Divya", "Manoj", "Deepak", "Anjali", "Farhan", "Nikhil"]
LAST = ["Sharma", "Verma", "Iyer", "Reddy", "Nair", "Patel", "Gupta", "Khan", "Singh", "Das",
        "Menon", "Kulkarni", "Joshi", "Mehta", "Chopra", "Bose", "Fernandes", "Rao", "Shetty",
        "Hegde"]
DEVANAGARI = [("राहुल", "शर्मा"), ("प्रिया", "वर्मा"), ("अमित", "सिंह"), ("सुनीता", "गुप्ता"),
              ("विकास", "यादव"), ("अंजलि", "मिश्रा")]
CITIES = ["Bengaluru", "Bengaluru", "Bengaluru", "Mysuru", "Tumakuru", "Hosur", "Chennai", "Pune"]
# Valid Indian mobile prefixes (5 digits; every completion is a valid mobile per libphonenumber).
MOBILE_PREFIXES = ["98450", "99001", "98860", "97410", "81050", "70190", "63600", "90080",
                   "81470", "72590", "88840", "95350", "96860", "80500", "73490"]
LANDLINES = ["8040001234", "8041125566", "8026573311"]  # Bengaluru (STD 80) fixed lines
FOREIGN = ["+971501234567", "+447411123456", "+12025550147", "+6591234567", "+971552345678"]
COLLIDING_INDIAN = "7411123456"  # last 10 digits of +447411123456: the last-10 normaliser merges
JUNK = ["9999999999", "1234567890", "0000000000", "9999999999"]
MODELS = ["mg_hector", "mg_astor", "mg_zs_ev", "mg_comet_ev", "mg_gloster", "mg_windsor_ev"]
WHEN = ["within_1_month", "1_to_3_months", "3_to_6_months", "just_exploring"]

API_WINDOW_END = datetime(2025, 12, 6, 12, 0, tzinfo=IST)  # the call-log pull ran at noon
CRM_EXPORT_AT = datetime(2025, 11, 23, 0, 0, tzinfo=IST)  # the CRM export holds what came before
BACKFILL_AT = datetime(2025, 11, 20, 10, 0, tzinfo=IST)  # the naive customers backfill ran here


@dataclass
class Person:
    pid: int
    kind: str  # mobile | landline | foreign | junk
    number: str  # Indian: 10-digit national number; foreign: E.164; junk: the junk digits
    first: str
    last: str
    native: tuple[str, str] | None  # a Devanagari spelling some forms receive
    email: str
    city: str
    calls: list[dict] = field(default_factory=list)
    leads: list[dict] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


# ---- people -------------------------------------------------------------------------------------
def make_people(rng: random.Random) -> list[Person]:
    people: list[Person] = []
    used: set[str] = set(JUNK) | {COLLIDING_INDIAN}
    kinds = ["mobile"] * 108 + ["landline"] * 3 + ["foreign"] * 5 + ["junk"] * 4
    for pid, kind in enumerate(kinds, start=1):
        if kind == "mobile":
            if pid == 4:
                number = COLLIDING_INDIAN
            else:
                number = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**5):05d}"
                while number in used:
                    number = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**5):05d}"
        elif kind == "landline":
            number = LANDLINES[pid % len(LANDLINES)]
        elif kind == "foreign":
            number = FOREIGN[pid % len(FOREIGN)]
        else:
            number = JUNK[pid % len(JUNK)]
        used.add(number)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        native = DEVANAGARI[pid % len(DEVANAGARI)] if pid % 17 == 3 else None
        email = f"{first.lower()}.{last.lower()}{pid}@{rng.choice(['gmail.com', 'yahoo.co.in'])}"
        people.append(Person(pid, kind, number, first, last, native, email, rng.choice(CITIES)))
    return people


def e164(person: Person) -> str:
    if person.kind == "foreign":
        return person.number
    return "+91" + person.number


# ---- Knowlarity -----------------------------------------------------------------------------
KNOWLARITY_FORMS = ["plus91", "bare", "trunk0", "cc91", "spaced"]


def knowlarity_phone(person: Person, form: str) -> str:
    """The customer_number as Knowlarity returned it for this call."""
    if person.kind == "foreign":
        return person.number
    national = person.number
    if person.kind == "landline":
        return "+91" + national if form in ("plus91", "cc91", "spaced") else "0" + national
    return {"plus91": f"+91{national}", "bare": national, "trunk0": f"0{national}",
            "cc91": f"91{national}", "spaced": f"+91 {national[:5]}-{national[5:]}"}[form]


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def ist_text(moment: datetime) -> str:
    return moment.astimezone(IST).strftime("%Y-%m-%d %H:%M:%S+05:30")


def business_moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    while True:
        moment = start + timedelta(seconds=rng.randrange(int((end - start).total_seconds())))
        if 9 <= moment.astimezone(IST).hour < 20:
            return moment.replace(microsecond=0)


def call_object(rng: random.Random, started: datetime, phone: str | None,
                how: str = "customer_number") -> dict[str, Any]:
    """One call-log object with every key of the reference (how: customer_number | caller_only |
    empty_with_caller | null | empty | anonymous)."""
    call_uuid = new_uuid(rng)
    outgoing = rng.random() < 0.15 and how in ("customer_number", "caller_only")
    number = rng.choice(list(KNOWLARITY_NUMBERS))
    if outgoing:
        duration = rng.choice([0, 48, 95, 210])
        business = "Outbound"
        agent = rng.choice(AGENTS)
    elif rng.random() < 0.3:
        duration, business, agent = 0, "Missed Call", "NA"
    else:
        business = rng.choice(["Call Group", "Call Group", "Phone", "DTMF", "Sound"])
        duration = rng.randrange(8, 40) if business == "Sound" else rng.randrange(15, 620)
        agent = rng.choice(SOUNDS) if business == "Sound" else rng.choice(AGENTS)
    record: dict[str, Any] = {"uuid": call_uuid}
    if how == "customer_number":
        record["customer_number"] = phone
    elif how == "caller_only":
        record["caller_id"] = phone  # no customer_number key at all
    elif how == "empty_with_caller":
        record["customer_number"] = ""
        record["caller_id"] = phone
    elif how == "null":
        record["customer_number"] = None
    elif how == "empty":
        record["customer_number"] = ""
    else:
        record["customer_number"] = "anonymous"
        record["caller_id"] = "anonymous"
    record.update({
        "agent_number": agent,
        "knowlarity_number": number,
        "start_time": ist_text(started),
        "call_duration": duration,
        "call_recording": (f"https://konnect.knowlarity.com/konnect/api/v1/{ACCOUNT}/{call_uuid}"
                           if duration and business != "Sound" else ""),
        "business_call_type": business,
        "Call_Type": (1 if outgoing else 0) if rng.random() < 0.85 else ("1" if outgoing else "0"),
    })
    roll = rng.random()
    if roll < 0.5:
        record["destination"] = ""
    elif roll < 0.8:
        record["destination"] = rng.choice(["Sales Queue", "Service Queue", agent])
    return record  # else: no destination key


def make_calls(rng: random.Random, people: list[Person]) -> list[tuple[Person | None, dict]]:
    start = datetime(2025, 11, 20, 9, 0, tzinfo=IST)
    calls: list[tuple[Person | None, datetime, str]] = []
    for person in people:
        if person.kind == "junk" and person.pid % 2:
            continue
        weights = [30, 40, 15, 10, 5] if person.kind != "landline" else [0, 40, 30, 20, 10]
        count = rng.choices([0, 1, 2, 3, 5], weights)[0]
        if person.kind == "junk":
            count = 1
        for _ in range(count):
            calls.append((person, business_moment(rng, start, API_WINDOW_END), "customer_number"))
    for how in ["anonymous", "anonymous", "anonymous", "empty", "empty", "null", "null"]:
        calls.append((None, business_moment(rng, start, API_WINDOW_END), how))
    calls.sort(key=lambda item: item[1])
    # Every customer_number form appears; then a few calls carry the number only in caller_id.
    result: list[tuple[Person | None, dict]] = []
    mobile_calls = 0
    for index, (person, started, how) in enumerate(calls):
        phone = None
        if person is not None:
            if person.kind == "mobile":
                form = (KNOWLARITY_FORMS[mobile_calls] if mobile_calls < len(KNOWLARITY_FORMS)
                        else rng.choices(KNOWLARITY_FORMS, [30, 25, 15, 20, 10])[0])
                mobile_calls += 1
            else:
                form = rng.choice(KNOWLARITY_FORMS)
            phone = knowlarity_phone(person, form)
            if index % 23 == 5:
                how = "caller_only"
            elif index % 29 == 7:
                how = "empty_with_caller"
        record = call_object(rng, started, phone, how)
        if person is not None:
            person.calls.append(record)
        result.append((person, record))
    return result


def write_json(path: Path, document: Any, indent: int | None = 1) -> None:
    path.write_text(json.dumps(document, indent=indent) + "\n", encoding="ascii")


def write_calllog_pages(out: Path, calls: list[tuple[Person | None, dict]],
                        newest: dict) -> list[str]:
    """API pages, newest first, limit 50. Between pages 1 and 2 `newest` is logged, so the list
    shifts by one: the last call of page 1 is the first of page 2 and total_count grows."""
    listing = [record for _, record in sorted(calls, key=lambda item: item[1]["start_time"],
                                              reverse=True)]
    listing.insert(70, {"customer_number": "+919845012399", "agent_number": "NA",
                        "knowlarity_number": "+918069001002",
                        "start_time": "2025-12-01 16:02:11+05:30", "call_duration": 0,
                        "call_recording": "", "business_call_type": "Missed Call",
                        "Call_Type": 0})  # no uuid: quarantined
    limit, names, offset, page = 50, [], 0, 1
    while True:
        current = listing if page == 1 else [newest] + listing
        objects = current[offset:offset + limit]
        total = len(current)
        more = offset + len(objects) < total
        query = "/Basic/v1/account/calllog?limit=50&start_time=2025-11-20+00%3A00%3A00%2B05%3A30"
        body = {"meta": {"limit": limit,
                         "next": f"{query}&offset={offset + limit}" if more else "",
                         "offset": offset,
                         "previous": f"{query}&offset={offset - limit}" if offset else "",
                         "total_count": total},
                "objects": objects}
        name = f"calllog_page_{page}.json"
        write_json(out / "knowlarity" / name, body)
        names.append(name)
        if not more:
            return names
        offset += len(objects)
        page += 1


def sr_hook(rng: random.Random, record: dict, phone: str) -> dict:
    started = datetime.strptime(record["start_time"], "%Y-%m-%d %H:%M:%S+05:30")
    started = started.replace(tzinfo=IST)
    ended = started + timedelta(seconds=record["call_duration"] + 9)
    return {
        "dispnumber": record["knowlarity_number"], "callid": record["uuid"], "caller_id": phone,
        "call_duration": str(record["call_duration"]), "destination": "Welcome Sound",
        "extension": "None", "action": "hangup", "hangup_cause": "900", "type": "dtmf",
        "call_type": "incoming", "resource_url": record["call_recording"],
        "timezone": "Asia/Kolkata",
        "start_time": started.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        + f".{rng.randrange(10**6):06d}+00:00",
        "end_time": ist_text(ended),
    }


def live_stream(record: dict, phone: str) -> list[dict]:
    """Server-sent live events of one call (as JSON bodies), then its CDR."""
    started = datetime.strptime(record["start_time"], "%Y-%m-%d %H:%M:%S+05:30")
    outgoing = str(record["Call_Type"]) == "1"
    missed = record["call_duration"] == 0
    if outgoing:
        steps = ["ORIGINATE", "AGENT_CALL", "AGENT_ANSWER", "CUSTOMER_CALL", "CUSTOMER_ANSWER",
                 "BRIDGE", "HANGUP", "HANGUP"]
    elif missed:
        steps = ["ORIGINATE", "AGENT_CALL", "HANGUP", "HANGUP"]
    else:
        steps = ["ORIGINATE", "AGENT_CALL", "AGENT_ANSWER", "BRIDGE", "HANGUP", "HANGUP"]
    events, legs = [], iter(["agent", "customer"] if not outgoing else ["customer", "agent"])
    for step_number, step in enumerate(steps):
        moment = started + timedelta(seconds=step_number * 3 if step != "HANGUP"
                                     else record["call_duration"] + step_number)
        event = {"event_type": step, "uuid": record["uuid"],
                 "call_direction": "Outbound" if outgoing else "Inbound",
                 "customer_number": phone, "agent_number": record["agent_number"],
                 "knowlarity_number": record["knowlarity_number"],
                 "event_date_local": moment.strftime("%Y-%m-%d %H:%M:%S")}
        if step == "HANGUP":
            event["leg_identifier"] = next(legs)
        events.append(event)
    ended = started + timedelta(seconds=record["call_duration"] + len(steps))
    events.append({"type": "CDR", "uuid": record["uuid"], "caller": phone,
                   "Call_Type": "Outgoing" if outgoing else "Incoming",
                   "call_duration": record["call_duration"],
                   "end_time": (ended - timedelta(hours=5, minutes=30)).strftime(
                       "%Y-%m-%d %H:%M:%S"),  # UTC, naive, as the stream's consumer reads it
                   "resource_url": record["call_recording"],
                   "knowlarity_number": record["knowlarity_number"]})
    return events


def make_webhooks(rng: random.Random, people: list[Person],
                  calls: list[tuple[Person | None, dict]]) -> tuple[list[str], dict, list[dict]]:
    """Webhook bodies: the newest API calls pushed in every shape, plus calls after the pull."""
    lines: list[str] = []
    late_start = API_WINDOW_END
    late: list[dict] = []
    callers = [person for person in people if person.kind in ("mobile", "foreign")]
    for number in range(8):  # calls after the API pull: only pushed (so far)
        person = callers[(number * 13 + 5) % len(callers)]
        started = late_start + timedelta(minutes=11 * number + rng.randrange(5))
        phone = knowlarity_phone(person, rng.choice(KNOWLARITY_FORMS))
        record = call_object(rng, started, phone)
        person.calls.append(record)
        late.append(record)
    newest = late[0]  # logged while the API pages were read: shifts page 2
    pushed = [record for _, record in sorted(calls, key=lambda item: item[1]["start_time"])[-30:]]
    shapes = ["wrapped", "flat", "sr_hook", "live", "wrapped", "sr_hook", "live+wrapped"]
    for index, record in enumerate(pushed + late):
        phone = record.get("customer_number") or record.get("caller_id") or ""
        shape = shapes[index % len(shapes)]
        ended = (datetime.strptime(record["start_time"], "%Y-%m-%d %H:%M:%S+05:30")
                 + timedelta(seconds=record["call_duration"] + 5))
        wrapped = {"event": "call.completed", "data": record,
                   "timestamp": ended.strftime("%Y-%m-%dT%H:%M:%S+05:30")}
        if shape == "wrapped":
            lines.append(json.dumps(wrapped))
            if index == 4:
                lines.append(json.dumps(wrapped))  # the same delivery retried
        elif shape == "flat":
            flat = {key: value for key, value in record.items() if key != "call_recording"}
            lines.append(json.dumps(flat))
        elif shape == "sr_hook":
            lines.append(json.dumps(sr_hook(rng, record, phone)))
        else:
            lines.extend(json.dumps(event) for event in live_stream(record, phone))
            if shape == "live+wrapped":
                lines.append(json.dumps(wrapped))
    lines.insert(17, '{"event": "call.completed", "data": {"uuid": "'
                 + new_uuid(rng) + '", "customer_number": "+9198450')  # cut off mid-body
    lines.insert(40, json.dumps({"status": "ok", "message": "Hook API test from SR dashboard"}))
    return lines, newest, late


# ---- Meta -----------------------------------------------------------------------------------
FREE_TEXT = ["trunk_spaced", "plus91_zero", "truncated", "bare", "dashed", "spaced"]


def free_text_phone(person: Person, style: str) -> str:
    national = person.number
    if person.kind == "foreign":
        return person.number
    return {"trunk_spaced": f"0{national[:5]} {national[5:]}",
            "plus91_zero": f"+91 (0) {national[:5]} {national[5:]}",
            "truncated": national[:5], "bare": national,
            "dashed": f"+91-{national[:5]}-{national[5:]}",
            "spaced": f"{national[:5]} {national[5:]}"}[style]


def standard_phone(person: Person, rng: random.Random) -> str:
    if person.kind in ("foreign",):
        return person.number
    if person.kind == "junk":
        return "+91" + person.number
    return "+91" + person.number if rng.random() < 0.85 else "+91 " + person.number


def answers(rng: random.Random, person: Person, form_id: str, index: int) -> list[dict]:
    def answer(name: str, value: str) -> dict:
        return {"name": name, "values": [value]}

    first, last = person.native if person.native and form_id != "911000000000002" else (
        person.first, person.last)
    full = f"{first} {last}"
    if form_id == "911000000000001":
        return [answer("full_name", full), answer("email", person.email),
                answer("phone_number", standard_phone(person, rng)), answer("city", person.city),
                answer("which_car_model_are_you_interested_in?", rng.choice(MODELS)),
                answer("when_do_you_plan_to_buy?", rng.choice(WHEN))]
    if form_id == "911000000000002":  # an old form: upper-case keys, phone typed by hand
        phone = person.number if person.kind != "foreign" else person.number
        if person.kind == "mobile" and rng.random() < 0.4:
            phone = "+91" + person.number
        return [answer("FULL_NAME", full.upper() if index % 5 == 0 else full),
                answer("EMAIL", person.email), answer("PHONE", phone),
                answer("CITY", person.city)]
    if form_id == "911000000000003":
        fields = [answer("first_name", first), answer("last_name", last),
                  answer("mobile_number", standard_phone(person, rng))]
        if index % 3 == 0:
            fields.append(answer("whatsapp_number", free_text_phone(person, "spaced")))
        fields.append(answer("which_car_model_are_you_interested_in?",
                             rng.choice(["mg_zs_ev", "mg_comet_ev", "mg_windsor_ev"])))
        fields.append(answer("preferred_showroom?", rng.choice(["koramangala", "hsr_layout"])))
        return fields
    if form_id == "911000000000004":  # custom short-answer phone questions: free text
        fields = [answer("full_name", full), answer("email", person.email)]
        if index % 5 != 1:  # the phone question is optional: some leads give only an email
            fields.append(answer("mobile", free_text_phone(person, FREE_TEXT[index % 6])))
            if index % 4 == 0:
                fields.append(answer("contact_number", free_text_phone(person, "trunk_spaced")))
        fields.append(answer("service_type", rng.choice(["periodic_service", "body_repair",
                                                         "ev_battery_check"])))
        fields.append(answer("vehicle_registration_number",
                             f"KA {rng.randrange(1, 60):02d} M{chr(65 + index % 26)} "
                             f"{rng.randrange(1000, 9999)}"))
        return fields
    return [answer("full_name", full),
            answer("phone_number_with_country_code",
                   "+91 " + person.number if person.kind == "mobile" else e164(person)),
            answer("mobile_phone", standard_phone(person, rng)) if index % 2 else
            answer("email", person.email),
            answer("which_car_model_are_you_interested_in?", "mg_windsor_ev")]


def test_tool_answers(form_id: str, index: int) -> list[dict]:
    """Leads from Meta's leads-testing tool: dummy values, no test flag."""
    def dummy(name: str) -> dict:
        return {"name": name, "values": [f"<test lead: dummy data for {name}>"]}

    email = {"name": "email", "values": ["test@meta.com" if index % 2 == 0 else "test@fb.com"]}
    if form_id == "911000000000003":
        return [dummy("first_name"), dummy("last_name"), dummy("mobile_number"),
                {"name": "which_car_model_are_you_interested_in?", "values": ["mg_zs_ev"]}]
    return [dummy("full_name"), email, dummy("phone_number"), dummy("city"),
            {"name": "which_car_model_are_you_interested_in?", "values": ["mg_hector"]},
            {"name": "when_do_you_plan_to_buy?", "values": ["just_exploring"]}]


def lead_object(rng: random.Random, lead_id: str, created: datetime, form_id: str,
                field_data: list[dict]) -> dict:
    lead: dict[str, Any] = {"id": lead_id,
                            "created_time": created.astimezone(UTC).strftime(
                                "%Y-%m-%dT%H:%M:%S+0000"),
                            "field_data": field_data}
    platform = rng.choice(["fb", "fb", "ig"])
    if rng.random() < 0.8:
        modern = rng.random() < 0.75
        ad = (f"1202{rng.randrange(10**14):014d}" if modern
              else f"2385{rng.randrange(10**13):013d}")  # 18 and 17 digits
        lead.update({"ad_id": ad, "ad_name": rng.choice(["Hector Dec video", "EV carousel",
                                                         "Year-end offer static"]),
                     "adset_id": ad[:-6] + f"{rng.randrange(10**6):06d}",
                     "adset_name": rng.choice(["Bengaluru 25-45", "Karnataka auto intenders"]),
                     "campaign_id": ad[:-9] + f"{rng.randrange(10**9):09d}",
                     "campaign_name": FORMS[form_id][0] + " campaign"})
        is_organic = False
    else:
        is_organic = True
    lead["form_id"] = form_id
    lead["is_organic"] = is_organic
    lead["platform"] = platform
    if rng.random() < 0.05:
        lead["custom_disclaimer_responses"] = [{"checkbox_key": "consent_to_contact",
                                                "is_checked": "1"}]
    return lead


def new_lead_id(rng: random.Random, used: set[str]) -> str:
    while True:
        digits = rng.choice([15, 16, 16, 17])
        lead_id = str(rng.randrange(10 ** (digits - 1), 10 ** digits))
        if lead_id not in used:
            used.add(lead_id)
            return lead_id


def make_leads(rng: random.Random, people: list[Person]) -> list[tuple[Person | None, dict]]:
    start, end = datetime(2025, 11, 20, 8, 0, tzinfo=IST), datetime(2025, 12, 6, 20, 0, tzinfo=IST)
    used: set[str] = set()
    plan: list[tuple[Person | None, datetime, str]] = []
    for person in people:
        if person.kind == "landline":
            continue
        count = rng.choices([0, 1, 2, 3], [20, 45, 25, 10])[0]
        if person.kind == "junk":
            count = 1
        for number in range(count):
            form_id = rng.choices(list(FORMS), [40, 14, 22, 16, 8])[0]
            if person.kind == "junk":
                form_id = "911000000000002" if person.pid % 2 else "911000000000004"
            created = business_moment(rng, start, end)
            if form_id == "911000000000002" and number == 0 and rng.random() < 0.4:
                created = business_moment(rng, datetime(2024, 3, 1, tzinfo=IST),
                                          datetime(2024, 11, 30, tzinfo=IST))  # 2024 leads
            plan.append((person, created, form_id))
    for form_id in ["911000000000001", "911000000000003", "911000000000001"]:
        plan.append((None, business_moment(rng, start, end), form_id))  # testing-tool leads
    plan.sort(key=lambda item: item[1])
    leads, test_leads = [], 0
    for index, (person, created, form_id) in enumerate(plan):
        if person is None:
            fields = test_tool_answers(form_id, test_leads)
            test_leads += form_id != "911000000000003"
        else:
            fields = answers(rng, person, form_id, index)
        lead = lead_object(rng, new_lead_id(rng, used), created, form_id, fields)
        if person is not None:
            person.leads.append(lead)
        leads.append((person, lead))
    return leads


def graph_text(document: Any) -> str:
    """JSON as Graph sends it: compact, non-ASCII escaped, and <, >, @, / escaped too."""
    text = json.dumps(document, separators=(",", ":"))
    return (text.replace("<", "\\u003C").replace(">", "\\u003E").replace("@", "\\u0040")
            .replace("/", "\\/"))


def write_meta(out: Path, rng: random.Random,
               leads: list[tuple[Person | None, dict]]) -> dict[str, int]:
    folder = out / "meta"
    pull_end = datetime(2025, 12, 6, 0, 0, tzinfo=IST).astimezone(UTC).strftime(
        "%Y-%m-%dT%H:%M:%S+0000")
    pulled = [lead for _, lead in leads if lead["form_id"] in PAGE_FORMS
              and lead["created_time"] < pull_end]
    later = [lead for _, lead in leads if lead not in pulled]
    page_number, counts = 0, {"page_files": 0}
    for form_id in PAGE_FORMS:  # GET /{form-id}/leads, newest first, limit 25
        form_leads = sorted((lead for lead in pulled if lead["form_id"] == form_id),
                            key=lambda lead: lead["created_time"], reverse=True)
        for offset in range(0, len(form_leads), 25):
            chunk = form_leads[offset:offset + 25]
            page_number += 1
            after = f"QVFIU{form_id[-3:]}{offset + len(chunk):04d}"
            paging: dict[str, Any] = {"cursors": {"before": f"QVFIU{form_id[-3:]}{offset:04d}",
                                                  "after": after}}
            if offset + 25 < len(form_leads):
                paging["next"] = (f"https://graph.facebook.com/v20.0/{form_id}/leads?"
                                  f"access_token={ACCESS_TOKEN}&fields=id%2Ccreated_time%2C"
                                  f"field_data%2Cad_id%2Cform_id&limit=25&after={after}")
            body = {"data": chunk, "paging": paging}
            path = folder / f"leads_page_{page_number}.json"
            if page_number == 1:
                path.write_text(graph_text(body) + "\n", encoding="ascii")
            else:
                write_json(path, body)
    counts["page_files"] = page_number
    counts["paged_leads"] = len(pulled)
    # Single objects as GET /{lead-id} returns them.
    singles = [later[0], later[1], pulled[3], later[2]]
    bare = {key: pulled[10][key] for key in ("id", "created_time", "field_data")}  # no fields=
    for number, lead in enumerate(singles + [bare], start=1):
        write_json(folder / f"lead_{number}.json", lead, indent=2)
    # JSON Lines: single leads and one page per line, a re-read duplicate, a lead without id.
    rest = later[3:]
    lines = [json.dumps(lead) for lead in rest[:-4]]
    lines.append(json.dumps({"data": rest[-4:], "paging": {"cursors": {"before": "QVFIUxx01",
                                                                       "after": "QVFIUxx04"}}}))
    lines.insert(3, json.dumps(pulled[20]))  # already on a page: lands as a duplicate
    lines.insert(5, json.dumps({"created_time": rest[0]["created_time"],
                                "field_data": rest[0]["field_data"][:2],
                                "form_id": "911000000000001"}))  # no id: quarantined
    (folder / "leads.jsonl").write_text("\n".join(lines) + "\n", encoding="ascii")
    counts["single_or_jsonl_leads"] = len(later)
    return counts


# ---- the CRM's export ---------------------------------------------------------------------
def digits_of(text: str | None) -> str:
    return "".join(ch for ch in text or "" if ch.isdigit())


def meta_phone(lead: dict) -> str | None:
    """What the CRM's Meta script reads: the first of its known phone keys, case-sensitive."""
    values = {item["name"]: item["values"][0] for item in lead["field_data"]}
    for key in ("phone_number", "PHONE", "mobile_number", "mobile", "phone"):
        if key in values:
            return values[key]
    return None


@dataclass
class CrmLead:
    lead_id: int
    person: Person | None
    full_name: str
    stored: str | None
    alternate: str | None
    source_id: int
    external: str
    status: str
    payload: str
    branch: int
    created: datetime


def crm_intake(rng: random.Random, calls: list[tuple[Person | None, dict]],
               leads: list[tuple[Person | None, dict]],
               walk_ins: list[tuple[Person, datetime, str | None]]):
    """Replay today's CRM rules over everything before the export: per record, the script's own
    normaliser gives the phone; case A creates a lead, B skips, C writes lead_sources_history."""
    events: list[tuple[datetime, int, Person | None, dict | None, str | None]] = []
    for person, record in calls:
        if "uuid" in record:
            started = datetime.strptime(record["start_time"], "%Y-%m-%d %H:%M:%S+05:30")
            events.append((started.replace(tzinfo=IST), 2, person, record, None))
    for person, lead in leads:
        created = datetime.strptime(lead["created_time"], "%Y-%m-%dT%H:%M:%S+0000")
        events.append((created.replace(tzinfo=UTC), 1, person, lead, None))
    for person, moment, typed in walk_ins:
        events.append((moment, 3, person, None, typed))
    events.sort(key=lambda event: event[0])
    crm_leads: list[CrmLead] = []
    history: list[list[str]] = []
    by_phone: dict[str, list[CrmLead]] = {}
    for moment, source_id, person, record, typed in events:
        if moment >= CRM_EXPORT_AT:
            break
        alternate = None
        if source_id == 2:  # call-log sync: every digit of customer_number (caller_id ignored)
            stored: str | None = digits_of(record.get("customer_number")) or None
            if stored is None:
                continue  # dropped: no phone
            external, status = record["uuid"], "Pending"
            branch = KNOWLARITY_NUMBERS.get(record.get("knowlarity_number")) or DEFAULT_BRANCH
            name = person.name if person else ""
        elif source_id == 1:  # Meta webhook script: last 10 digits
            raw = meta_phone(record)
            stored = digits_of(raw)[-10:] or None if raw is not None else None
            if stored is None:
                continue  # no phone (email-only, testing-tool dummy): the script fails it
            external, status = record["id"], "New"
            branch = FORMS[record["form_id"]][1] or DEFAULT_BRANCH
            values = {item["name"].lower(): item["values"][0] for item in record["field_data"]}
            name = values.get("full_name") or " ".join(
                filter(None, [values.get("first_name"), values.get("last_name")]))
            if "whatsapp_number" in values:
                alternate = values["whatsapp_number"]
        else:  # reception, typing into the CRM
            stored, external, status = typed, "", rng.choice(["New", "Pending"])
            branch = rng.choice(list(BRANCHES))
            name = person.name
        payload = json.dumps(record, ensure_ascii=False) if record is not None else (
            json.dumps({"entered_by": "reception", "channel": "walk_in"}) if rng.random() < 0.5
            else "")
        existing = by_phone.get(stored, []) if stored else []
        if existing and all(lead.source_id == source_id for lead in existing):
            continue  # case B: a duplicate
        if existing:  # case C: heard of again from another source
            history.append([str(existing[0].lead_id), str(source_id), external, payload,
                            moment.astimezone(UTC).isoformat(), "false"])
            continue
        lead = CrmLead(1001 + len(crm_leads), person, name, stored, alternate, source_id,
                       external, status, payload, branch, moment)
        crm_leads.append(lead)
        history.append([str(lead.lead_id), str(source_id), external, payload,
                        moment.astimezone(UTC).isoformat(), "true"])
        if stored:
            by_phone.setdefault(stored, []).append(lead)
    return crm_leads, history


def walk_in_entries(rng: random.Random, people: list[Person]) -> list[tuple[Person, datetime,
                                                                            str | None]]:
    """Leads typed in by reception before the intake scripts: stored as typed, or worse."""
    start, end = datetime(2024, 6, 1, tzinfo=IST), datetime(2025, 11, 22, tzinfo=IST)
    entries = []
    candidates = [person for person in people if person.kind != "foreign"]
    for number in range(15):
        person = candidates[(number * 7 + 3) % len(candidates)]
        national = person.number
        typed = [national, "91" + national, "0" + national, national, None, "", national[:5],
                 "9999999999", national, "91" + national][number % 10]
        if person.kind == "junk":
            typed = person.number
        entries.append((person, business_moment(rng, start, end), typed))
    return entries


def older_records(rng: random.Random, people: list[Person]) -> tuple[list, list]:
    """Calls and form leads from before the sample window: only the CRM export still has them
    (as leads_master / lead_sources_history rows with their raw payloads)."""
    start, end = datetime(2025, 5, 1, tzinfo=IST), datetime(2025, 11, 19, tzinfo=IST)
    calls, leads, used = [], [], set()
    regulars = [person for person in people if person.kind in ("mobile", "landline", "foreign")]
    for number, person in enumerate(regulars[::5]):
        for repeat in range(1 + number % 2):
            form = KNOWLARITY_FORMS[(number + repeat) % len(KNOWLARITY_FORMS)]
            if (number + repeat) % 3 != 2:
                record = call_object(rng, business_moment(rng, start, end),
                                     knowlarity_phone(person, form))
                calls.append((person, record))
            else:
                form_id = rng.choice(PAGE_FORMS[:3])
                created = business_moment(rng, start, end)
                lead = lead_object(rng, new_lead_id(rng, used), created, form_id,
                                   answers(rng, person, form_id, number))
                leads.append((person, lead))
    return calls, leads


def write_legacy(out: Path, rng: random.Random, people: list[Person], calls: list,
                 leads: list) -> dict:
    folder = out / "legacy"
    old_calls, old_leads = older_records(rng, people)
    crm_leads, history = crm_intake(rng, old_calls + calls, old_leads + leads,
                                    walk_in_entries(rng, people))
    # Statuses move on with age; the CRM's rule (one open lead per customer per branch) is not
    # enforced by the data.
    for lead in crm_leads:
        age_days = (CRM_EXPORT_AT - lead.created).days
        if age_days > 3:
            lead.status = rng.choices(["New", "Pending", "Qualified", "Unqualified", "Lost"],
                                      [10, 20, 30, 15, 25])[0]
    # The naive backfill: one customer per distinct stored string, then link by equality.
    customers: dict[str, int] = {}
    customer_rows = []
    for lead in crm_leads:
        if lead.created < BACKFILL_AT and lead.stored and lead.stored not in customers:
            customers[lead.stored] = len(customers) + 1
            person = lead.person
            customer_rows.append([
                str(customers[lead.stored]), lead.stored, lead.full_name,
                person.email if person and lead.source_id == 1 else "",
                person.city if person and lead.source_id == 1 else "",
                BACKFILL_AT.astimezone(UTC).isoformat(), BACKFILL_AT.astimezone(UTC).isoformat()])
    with open(folder / "sources.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "display_name", "source_type", "total_leads_count",
                         "todays_leads_count"])
        for source_id, name, kind in [(1, "Meta", "meta_form"), (2, "Knowlarity",
                                                                  "knowlarity_call"),
                                      (3, "Walk-in", "walk_in")]:
            actual = sum(1 for lead in crm_leads if lead.source_id == source_id)
            writer.writerow([source_id, name, kind, actual + rng.choice([-2, -1, 0, 3]),
                             rng.randrange(0, 4)])  # racy counters: off by a few
    with open(folder / "customers.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "phone_number_normalized", "full_name", "email", "city",
                         "created_at", "updated_at"])
        writer.writerows(customer_rows)
    with open(folder / "leads_master.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "full_name", "phone_number_normalized", "alternate_phone_number",
                         "source_id", "external_lead_id", "status", "raw_payload", "assigned_to",
                         "branch_id", "customer_id", "created_at", "updated_at"])
        for lead in crm_leads:
            linked = lead.created < BACKFILL_AT and lead.stored in customers
            updated = lead.created + timedelta(hours=rng.randrange(0, 200))
            writer.writerow([
                lead.lead_id, lead.full_name, lead.stored or "", lead.alternate or "",
                lead.source_id, lead.external, lead.status, lead.payload,
                rng.choice(["", "7", "8", "12"]), lead.branch,
                customers[lead.stored] if linked else "",
                lead.created.astimezone(UTC).isoformat(),
                min(updated, CRM_EXPORT_AT).astimezone(UTC).isoformat()])
    with open(folder / "lead_sources_history.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["lead_id", "source_id", "external_id", "raw_payload", "received_at",
                         "is_primary"])
        writer.writerows(history)
    people_customers: dict[int, set[str]] = {}
    for lead in crm_leads:
        if lead.person and lead.stored in customers:
            people_customers.setdefault(lead.person.pid, set()).add(lead.stored)
    return {"legacy_leads": len(crm_leads), "legacy_customers": len(customers),
            "linked": sum(1 for lead in crm_leads
                          if lead.created < BACKFILL_AT and lead.stored in customers),
            "people_with_2plus_customers": sum(1 for forms in people_customers.values()
                                               if len(forms) > 1),
            "history_rows": len(history)}


def write_seeds(seeds: Path) -> None:
    seeds.mkdir(parents=True, exist_ok=True)
    with open(seeds / "knowlarity_number_branches.csv", "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["knowlarity_number", "branch_id", "branch_name"])
        for number, branch in KNOWLARITY_NUMBERS.items():
            if branch is not None:
                writer.writerow([number, branch, BRANCHES[branch]])
    with open(seeds / "meta_form_branches.csv", "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["form_id", "branch_id", "branch_name"])
        for form_id, (_, branch) in FORMS.items():
            if branch is not None:
                writer.writerow([form_id, branch, BRANCHES[branch]])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="samples folder to rewrite (default: samples/)")
    parser.add_argument("--seeds-dir", type=Path, default=DEFAULT_SEEDS,
                        help="where the branch seed CSVs go (default: seeds/)")
    args = parser.parse_args(argv)
    out = args.out
    rng = random.Random(SEED)
    for folder in ("knowlarity", "meta", "legacy"):
        target = out / folder
        target.mkdir(parents=True, exist_ok=True)
        for old in target.glob("*"):
            if old.suffix in {".json", ".jsonl", ".csv"}:
                old.unlink()
    people = make_people(rng)
    calls = make_calls(rng, people)
    hooks, newest, late = make_webhooks(rng, people, calls)
    pages = write_calllog_pages(out, calls, newest)
    (out / "knowlarity" / "webhooks.jsonl").write_text("\n".join(hooks) + "\n", encoding="ascii")
    leads = make_leads(rng, people)
    meta_counts = write_meta(out, rng, leads)
    legacy_counts = write_legacy(out, rng, people, calls, leads)
    write_seeds(args.seeds_dir)
    in_both = sum(1 for person in people if person.calls and person.leads)
    seen = sum(1 for person in people if person.calls or person.leads)
    print(f"people {len(people)} (seen in Knowlarity or Meta {seen}, in both {in_both}); "
          f"API calls {len(calls)} on {len(pages)} pages (+1 without uuid, +1 repeated); "
          f"webhook lines {len(hooks)} ({len(late)} calls only pushed); Meta leads {len(leads)} "
          f"({meta_counts}); legacy {legacy_counts}")


if __name__ == "__main__":
    main()

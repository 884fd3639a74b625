"""Generate the demo/test sample data under samples/ (deterministic: fixed seed).

    python scripts/generate_samples.py            # rewrites samples/

People overlap across sources the way they do in the CRM: the same person calls from Knowlarity
and fills a Meta form, with their phone written differently each time; the CRM's own export stores
it the two broken ways (last 10 digits, all digits). A few junk numbers, foreign numbers, empty
phones and malformed records exercise quarantine and the review queue.
"""

from __future__ import annotations

import csv
import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

SEED = 20251206
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "samples"
IST = timezone(timedelta(hours=5, minutes=30))

FIRST = ["Aarav", "Vivaan", "Aditya", "Vihaan", "Arjun", "Sai", "Reyansh", "Krishna", "Ishaan",
         "Ananya", "Diya", "Saanvi", "Aadhya", "Kiara", "Priya", "Neha", "Rohit", "Karan", "Meera",
         "Pooja", "Rahul", "Sneha", "Vikram", "Lakshmi", "Imran", "Fatima", "Joseph", "Gurpreet"]
LAST = ["Sharma", "Verma", "Iyer", "Reddy", "Nair", "Patel", "Gupta", "Khan", "Singh", "Das",
        "Menon", "Kulkarni", "Joshi", "Mehta", "Chopra", "Bose", "Fernandes", "Rao"]
CITIES = ["Bengaluru", "Mumbai", "Pune", "Hyderabad", "Chennai", "Delhi", "Kochi", "Mysuru"]
KNOWLARITY_NUMBERS = ["+918069001001", "+918069001002", "+918069001003", "+918069001999"]
FORMS = {"911000000000001": "Hector test drive", "911000000000002": "Astor offers",
         "911000000000003": "ZS EV enquiry", "911000000000999": "Old archived form"}
JUNK = ["9999999999", "1234567890", "0000000000"]
FOREIGN = ["+971501234567", "+447911123456", "+12025550147", "+6591234567"]
LANDLINES = ["+918040001234", "+912240005678"]


def mobile(rng: random.Random) -> str:
    return rng.choice("6789") + "".join(rng.choice("0123456789") for _ in range(9))


def make_people(rng: random.Random, count: int = 120) -> list[dict]:
    people = []
    for index in range(count):
        kind = rng.choices(["mobile", "foreign", "landline", "junk"], [90, 4, 3, 3])[0]
        national = {"mobile": lambda: mobile(rng), "foreign": lambda: rng.choice(FOREIGN),
                    "landline": lambda: rng.choice(LANDLINES), "junk": lambda: rng.choice(JUNK)}[kind]()
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        people.append({"index": index, "kind": kind, "phone": national, "name": name,
                       "email": f"{name.split()[0].lower()}.{index}@example.in",
                       "city": rng.choice(CITIES)})
    return people


def indian_variants(national: str) -> list[str]:
    return [f"+91{national}", national, f"0{national}", f"91{national}",
            f"+91 {national[:5]}-{national[5:]}", f"{national[:5]} {national[5:]}"]


def knowlarity_phone(rng: random.Random, person: dict) -> str:
    if person["kind"] == "mobile" or person["kind"] == "junk":
        return rng.choice(indian_variants(person["phone"])[:5])
    return person["phone"]


def meta_phone(rng: random.Random, person: dict) -> str:
    phone = person["phone"]
    if person["kind"] != "mobile":
        return phone
    return rng.choice([f"+91{phone}", f"{phone[:5]} {phone[5:]}", f"0{phone[:5]} {phone[5:]}",
                       f"+91 (0) {phone[:5]} {phone[5:]}", phone, f"+91-{phone}"])


def call_record(rng: random.Random, person: dict | None, started: datetime) -> dict:
    duration = rng.choice([0, 0, 14, 37, 65, 122, 301])
    call_uuid = str(uuid.UUID(int=rng.getrandbits(128)))
    record = {
        "uuid": call_uuid,
        "knowlarity_number": rng.choice(KNOWLARITY_NUMBERS),
        "agent_number": rng.choice(["+919845000111", "+919845000222", "NA", "Welcome Sound"]),
        "destination": rng.choice(["", "Sales Queue", "+919845000111"]),
        "start_time": started.strftime("%Y-%m-%d %H:%M:%S+05:30"),
        "call_duration": duration,
        "call_recording": "" if duration == 0 else
        f"https://konnect.knowlarity.com/konnect/api/v1/1234/{call_uuid}",
        "business_call_type": "Missed Call" if duration == 0 else
        rng.choice(["Call Group", "Phone", "DTMF", "Sound"]),
        "Call_Type": rng.choice([0, 0, 0, "0", 1]),
    }
    if person is None:
        choice = rng.choice(["anonymous", "", None, "absent"])
        if choice == "absent":
            record["caller_id"] = "anonymous"
        else:
            record["customer_number"] = choice
        return record
    phone = knowlarity_phone(rng, person)
    if rng.random() < 0.1:
        record["caller_id"] = phone  # only caller_id, no customer_number key
    else:
        record["customer_number"] = phone
    return record


def lead_object(rng: random.Random, person: dict | None, created: datetime, lead_id: str) -> dict:
    form_id = rng.choice(list(FORMS))
    answers: list[dict] = []
    if person is None:  # a lead from Meta's testing tool
        answers = [{"name": "full_name", "values": ["<test lead: dummy data for full_name>"]},
                   {"name": "email", "values": ["test@meta.com"]},
                   {"name": "phone_number", "values": ["<test lead: dummy data for phone_number>"]}]
    else:
        style = rng.choice(["standard", "split", "upper", "custom", "email_only"])
        phone = meta_phone(rng, person)
        first, last = person["name"].split()
        if style == "standard":
            answers = [{"name": "full_name", "values": [person["name"]]},
                       {"name": "phone_number", "values": [phone]},
                       {"name": "email", "values": [person["email"]]},
                       {"name": "city", "values": [person["city"]]}]
        elif style == "split":
            answers = [{"name": "first_name", "values": [first]}, {"name": "last_name", "values": [last]},
                       {"name": rng.choice(["mobile_number", "whatsapp_number", "contact_number"]),
                        "values": [phone]}]
        elif style == "upper":
            answers = [{"name": "FULL_NAME", "values": [person["name"]]},
                       {"name": "PHONE", "values": [phone]}, {"name": "EMAIL", "values": [person["email"]]}]
        elif style == "custom":
            answers = [{"name": "full_name", "values": [f"{person['name']} \u0936\u0930\u094d\u092e\u093e"]},
                       {"name": "your_mobile_no?", "values": [phone]}]
        else:
            answers = [{"name": "full_name", "values": [person["name"]]},
                       {"name": "email", "values": [person["email"]]}]
        answers.append({"name": "which_car_model_are_you_interested_in?",
                        "values": [rng.choice(["mg_hector", "mg_astor", "mg_zs_ev", "mg_comet"])]})
        answers.append({"name": "when_do_you_plan_to_buy?",
                        "values": [rng.choice(["within_1_month", "1_3_months", "just_exploring"])]})
    lead = {"id": lead_id, "created_time": created.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "field_data": answers, "form_id": form_id, "platform": rng.choice(["fb", "ig"])}
    if rng.random() < 0.8:
        lead.update({"ad_id": str(120210000000000000 + rng.randrange(10**6)), "ad_name": "Hector Dec",
                     "adset_id": str(120210000000100000 + rng.randrange(10**4)), "adset_name": "Bengaluru 25-45",
                     "campaign_id": str(120210000000200000 + rng.randrange(100)),
                     "campaign_name": "Year-end offers", "is_organic": False})
    else:
        lead["is_organic"] = True
    return lead


def graph_escape(text: str) -> str:
    """Graph escapes <, > and @ as well as non-ASCII."""
    return text.replace("<", "\\u003C").replace(">", "\\u003E").replace("@", "\\u0040")


def main() -> None:
    rng = random.Random(SEED)
    people = make_people(rng)
    start = datetime(2025, 12, 1, 9, 0, tzinfo=IST)
    for folder in ("knowlarity", "meta", "legacy"):
        (OUT / folder).mkdir(parents=True, exist_ok=True)

    # Knowlarity: ~150 calls over 3 API pages (newest first), then webhooks.
    calls = []
    for number in range(150):
        person = None if rng.random() < 0.06 else rng.choice(people)
        calls.append((person, call_record(rng, person, start + timedelta(minutes=37 * number))))
    calls.reverse()
    page_size = 50
    objects = [record for _, record in calls]
    objects.append({"customer_number": "9876543210", "start_time": "2025-12-06 10:00:00+05:30"})  # no uuid
    for page in range(3):
        chunk = objects[page * page_size:(page + 1) * page_size + (1 if page == 2 else 0)]
        if page == 1:
            chunk = [objects[page * page_size - 1]] + chunk  # a call shifted onto the next page
        body = {"meta": {"limit": page_size, "next": "", "offset": page * page_size, "previous": "",
                         "total_count": len(objects)}, "objects": chunk}
        (OUT / "knowlarity" / f"calllog_page_{page + 1}.json").write_text(json.dumps(body, indent=1))

    hooks: list[str] = []
    for person, record in calls[:40]:
        shape = rng.choice(["wrapped", "flat", "sr_hook", "live"])
        if shape == "wrapped":
            hooks.append(json.dumps({"event": "call.completed", "data": record,
                                     "timestamp": record["start_time"].replace(" ", "T")}))
        elif shape == "flat":
            hooks.append(json.dumps(record))
        elif shape == "sr_hook":
            started = datetime.strptime(record["start_time"], "%Y-%m-%d %H:%M:%S+05:30").replace(tzinfo=IST)
            hooks.append(json.dumps({
                "dispnumber": record["knowlarity_number"], "callid": record["uuid"],
                "caller_id": record.get("customer_number") or record.get("caller_id") or "",
                "call_duration": str(record["call_duration"]), "destination": "Welcome Sound",
                "extension": "None", "action": "call", "hangup_cause": "900", "type": "dtmf",
                "call_type": "incoming", "resource_url": record["call_recording"],
                "timezone": "Asia/Kolkata",
                "start_time": started.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.391601+00:00"),
                "end_time": (started + timedelta(seconds=record["call_duration"])).strftime(
                    "%Y-%m-%d %H:%M:%S+05:30")}))
        else:
            phone = record.get("customer_number") or record.get("caller_id") or ""
            local = record["start_time"][:19]
            for event in ["ORIGINATE", "CUSTOMER_CALL", "CUSTOMER_ANSWER", "HANGUP"]:
                hooks.append("data: " + json.dumps({
                    "event_type": event, "uuid": record["uuid"], "call_direction": "Inbound",
                    "customer_number": phone, "event_date_local": local,
                    **({"leg_identifier": "customer"} if event == "HANGUP" else {})}))
            hooks.append(json.dumps({"type": "CDR", "uuid": record["uuid"], "caller": phone,
                                     "Call_Type": "Incoming", "call_duration": record["call_duration"],
                                     "end_time": local, "resource_url": record["call_recording"]}))
    hooks.append('{"event": "call.completed", "data": {"uuid": "broken"')  # truncated body
    hooks.append(json.dumps({"ping": "keepalive"}))  # unrecognised shape
    (OUT / "knowlarity" / "webhooks.jsonl").write_text("\n".join(hooks) + "\n")

    # Meta: ~150 leads over 4 forms, 3 pages plus single objects and a JSON Lines file.
    leads = []
    for number in range(150):
        person = None if rng.random() < 0.04 else rng.choice(people)
        lead_id = str(10**15 + rng.randrange(10**16))
        leads.append((person, lead_object(rng, person, start + timedelta(minutes=41 * number), lead_id)))
    for page in range(3):
        chunk = [lead for _, lead in leads[page * 45:(page + 1) * 45]]
        body: dict = {"data": chunk, "paging": {"cursors": {"before": f"QVFI{page}b", "after": f"QVFI{page}a"}}}
        if page < 2:
            body["paging"]["next"] = (f"https://graph.facebook.com/v20.0/911000000000001/leads?"
                                      f"access_token=REDACTED&after=QVFI{page}a")
        text = json.dumps(body, indent=1)
        if page == 0:
            text = graph_escape(text)
        (OUT / "meta" / f"leads_page_{page + 1}.json").write_text(text)
    for index, (_, lead) in enumerate(leads[135:140]):
        (OUT / "meta" / f"lead_{index + 1}.json").write_text(json.dumps(lead, indent=1))
    lines = [json.dumps(lead) for _, lead in leads[140:]]
    lines.append(json.dumps({"data": [lead for _, lead in leads[130:135]], "paging": {"cursors": {}}}))
    lines.append(json.dumps({"created_time": "2025-12-05T10:00:00+0000", "field_data": []}))  # no id
    (OUT / "meta" / "leads.jsonl").write_text("\n".join(lines) + "\n")

    # The CRM's own export: leads inserted by today's scripts, phones stored by two normalisers.
    sources = [(1, "Meta", "meta_form"), (2, "Knowlarity", "knowlarity_call"), (3, "Walk-in", "walk_in")]
    legacy_rows = []
    stored_forms: dict[str, str] = {}
    lead_id = 1000
    statuses = ["New", "Pending", "Qualified", "Unqualified", "Lost"]
    for person, record in calls[100:140]:
        lead_id += 1
        legacy_rows.append((lead_id, person, 2, record["uuid"], record["start_time"]))
    for person, lead in leads[100:130]:
        lead_id += 1
        legacy_rows.append((lead_id, person, 1, lead["id"], lead["created_time"]))
    for person in rng.sample(people, 15):
        lead_id += 1
        legacy_rows.append((lead_id, person, 3, "", "2025-11-20 12:00:00+05:30"))
    customers: dict[str, int] = {}
    leads_master = []
    for lead_id, person, source_id, external, created in legacy_rows:
        if person is None:
            stored = rng.choice(["", None])
        else:
            digits = "".join(ch for ch in person["phone"] if ch.isdigit())
            stored = rng.choice([digits[-10:], digits if person["phone"].startswith("+") else "91" + digits,
                                 digits[-10:], "0" + digits[-10:]])
            if rng.random() < 0.05:
                stored = ""
        customer_id = ""
        if stored:
            customers.setdefault(stored, 500 + len(customers))
            if rng.random() < 0.6:
                customer_id = str(customers[stored])
        status = rng.choice(statuses)
        leads_master.append({
            "id": lead_id, "full_name": person["name"] if person else "",
            "phone_number_normalized": "" if stored is None else stored,
            "alternate_phone_number": "", "source_id": source_id, "external_lead_id": external,
            "status": status, "raw_payload": json.dumps({"imported": True}) if external else "",
            "assigned_to": rng.choice(["", "7", "8"]), "branch_id": rng.choice([1, 2, 3]),
            "customer_id": customer_id, "created_at": created, "updated_at": created})
    stored_forms = {value: key for key, value in customers.items()}
    people_by_stored = {}
    for row in leads_master:
        people_by_stored.setdefault(row["phone_number_normalized"], row["full_name"])

    with open(OUT / "legacy" / "sources.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "display_name", "source_type", "total_leads_count", "todays_leads_count"])
        for source_id, name, kind in sources:
            writer.writerow([source_id, name, kind, rng.randrange(40, 90), rng.randrange(0, 5)])
    with open(OUT / "legacy" / "customers.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "phone_number_normalized", "full_name", "email", "city", "created_at",
                         "updated_at"])
        for customer_id, stored in sorted(stored_forms.items()):
            writer.writerow([customer_id, stored, people_by_stored.get(stored, ""), "", "",
                             "2025-11-25 10:00:00+05:30", "2025-11-25 10:00:00+05:30"])
    fields = ["id", "full_name", "phone_number_normalized", "alternate_phone_number", "source_id",
              "external_lead_id", "status", "raw_payload", "assigned_to", "branch_id", "customer_id",
              "created_at", "updated_at"]
    with open(OUT / "legacy" / "leads_master.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(leads_master)
    with open(OUT / "legacy" / "lead_sources_history.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["lead_id", "source_id", "external_id", "raw_payload", "received_at", "is_primary"])
        for row in leads_master[:5]:
            writer.writerow([row["id"], row["source_id"], row["external_lead_id"], "", row["created_at"], "true"])

    seeds = ROOT / "seeds"
    seeds.mkdir(exist_ok=True)
    with open(seeds / "knowlarity_number_branches.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["knowlarity_number", "branch_id", "branch_name"])
        for number, (branch_id, name) in zip(KNOWLARITY_NUMBERS[:3],
                                             [(1, "Indiranagar"), (2, "Whitefield"), (3, "Koramangala")]):
            writer.writerow([number, branch_id, name])
    with open(seeds / "meta_form_branches.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["form_id", "branch_id", "branch_name"])
        for form_id, (branch_id, name) in zip(list(FORMS)[:3],
                                              [(1, "Indiranagar"), (2, "Whitefield"), (3, "Koramangala")]):
            writer.writerow([form_id, branch_id, name])
    print(f"people {len(people)}, calls {len(calls)}, webhook lines {len(hooks)}, leads {len(leads)}, "
          f"legacy leads {len(leads_master)}, legacy customers {len(customers)}")


if __name__ == "__main__":
    main()

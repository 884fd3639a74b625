"""Generate a synthetic export of the CRM's tables at scale, with the true person of every lead.

    python scripts/generate_legacy_crm.py --rows 1000000 --out /tmp/crm [--seed 42]

Streams rows to disk (memory stays flat: a few tens of MB at any N). See `--help` for the format.
The point is the backfill benchmark (benchmarks/identity_benchmark.py): the CRM team's naive
backfill (one customer per distinct stored string) against leadlink, scored with `truth.csv`.
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import sys
import time
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TextIO

FORMAT_NOTE = """\
format:
  Writes four CSV files (UTF-8, header row, comma separated, RFC 4180 quoting) into --out,
  the CRM tables of the crm-schema reference, as `leadlink load legacy` reads them:
    sources.csv       id,display_name,source_type,total_leads_count,todays_leads_count
    customers.csv     id,phone_number_normalized,full_name,email,city,created_at,updated_at
                      = the CRM team's naive backfill: one customer per distinct non-empty stored
                        phone string (so one person can own 2-3 customers, junk numbers and
                        truncated strings own customers too)
    leads_master.csv  id,full_name,phone_number_normalized,alternate_phone_number,source_id,
                      external_lead_id,status,raw_payload,assigned_to,branch_id,customer_id,
                      created_at,updated_at
                      (exactly --rows rows; customer_id = the naive customer for ~60% of rows,
                       empty otherwise)
    truth.csv         lead_id,person_id,true_e164
                      (the person behind each lead; true_e164 = the E.164 a correct normaliser
                       must produce from the stored string, empty when the stored value is
                       junk, truncated, empty or NULL)
  An unquoted empty cell is NULL; a quoted empty cell ("") is an empty string (PostgreSQL COPY
  CSV semantics; `leadlink load legacy` treats both as NULL). raw_payload is JSON text;
  timestamps are ISO 8601 with an offset (IST, +05:30).
  Stored phone forms (as the CRM's two normalisers and its receptionists wrote them): last 10
  digits, all digits with 91, trunk 0, +91..., with spaces/dashes, "", NULL, junk (9999999999,
  repeated digits, 1234567890, 9876543210), truncated (5-9 digits); Indian numbers are valid per
  libphonenumber (mobiles and STD fixed lines); foreign numbers (+971, +44, +1) are stored with
  all their digits (no plus); their true_e164 is the foreign number, which a normaliser only
  finds if it tries '+' + digits when the default-region (IN) reading is invalid; a strict
  libphonenumber reading calls them unusable. Score them apart (true_e164 not starting +91).
  The same --rows and --seed always give byte-identical files.
"""

IST = timezone(timedelta(hours=5, minutes=30))
START = datetime(2024, 1, 1, 9, 0, tzinfo=IST)
SPAN_SECONDS = int((datetime(2025, 12, 1, 9, 0, tzinfo=IST) - START).total_seconds())
BACKFILL_AT = "2025-12-01 10:00:00+05:30"
BLOCK = 1000  # rows are emitted in blocks of this size, shuffled, ids in time order
MAX_SPREAD_BLOCKS = 60  # a person's later leads land up to this many blocks later

SOURCES = [(1, "Meta", "meta_form"), (2, "Knowlarity", "knowlarity_call"),
           (3, "Walk-in", "walk_in")]
SOURCE_WEIGHTS = [45, 40, 15]
BRANCHES = [1, 2, 3, 4, 5, 6]
KNOWLARITY_NUMBERS = ["+918069001001", "+918069001002", "+918069001003", "+918069001999"]
META_FORMS = ["911000000000001", "911000000000002", "911000000000003", "911000000000004"]

# Values typed into required phone fields: real-looking, nobody's number. Several of these are in
# seeds/phone_test_numbers.csv; 1234567890/0000000000/1111111111 are invalid per libphonenumber.
JUNK = ["9999999999", "9999999999", "9999999999", "8888888888", "7777777777", "0000000000",
        "1234567890", "1234567890", "9876543210", "9000000000", "1111111111"]
PLACEHOLDER_NATIONALS = frozenset(JUNK) | {"8080808080", "9898989898", "9123456789"}

FIRST = ["Aarav", "Vivaan", "Aditya", "Vihaan", "Arjun", "Sai", "Reyansh", "Krishna", "Ishaan",
         "Ananya", "Diya", "Saanvi", "Aadhya", "Kiara", "Priya", "Neha", "Rohit", "Karan", "Meera",
         "Pooja", "Rahul", "Sneha", "Vikram", "Lakshmi", "Imran", "Fatima", "Joseph", "Gurpreet",
         "Suresh", "Ramesh", "Kavya", "Divya", "Manoj", "Deepak", "Anjali", "Farhan", "Nikhil"]
LAST = ["Sharma", "Verma", "Iyer", "Reddy", "Nair", "Patel", "Gupta", "Khan", "Singh", "Das",
        "Menon", "Kulkarni", "Joshi", "Mehta", "Chopra", "Bose", "Fernandes", "Rao", "Shetty",
        "Pillai", "Hegde", "Mishra", "Agarwal", "Naidu"]
DEVANAGARI = ["राहुल शर्मा", "प्रिया वर्मा", "अमित सिंह", "सुनीता गुप्ता", "विकास यादव"]
CITIES = ["Bengaluru", "Mysuru", "Hubballi", "Mangaluru", "Pune", "Chennai", "Hyderabad", ""]
STATUSES_OLD = (["Qualified", "Unqualified", "Lost", "Pending", "New"], [25, 25, 35, 10, 5])
STATUSES_NEW = (["New", "Pending", "Qualified", "Unqualified", "Lost"], [40, 35, 12, 6, 7])
# Fixed lines: STD code + exchange prefixes (checked against libphonenumber at start-up).
FIXED_PREFIXES = ["8040", "8041", "8022", "8026", "2240", "2266", "1140", "1141", "4440", "4042",
                  "2040", "3340"]
FOREIGN = [  # (region, country code, candidate national prefixes, national length)
    ("AE", "971", ["50", "52", "54", "55", "56", "58"], 9),
    ("GB", "44", ["74", "75", "77", "78", "79"], 10),
    ("US", "1", ["2125", "4155", "6463", "3124", "6175"], 10),
]


@dataclass(frozen=True)
class Numbering:
    """Valid number prefixes; each class of person gets numbers from its own bijection."""

    mobile_prefixes: list[str]  # 4 digits, every 10-digit completion is a valid IN mobile
    fixed_prefixes: list[str]  # 4 digits, every 10-digit completion is a valid IN fixed line
    foreign: list[tuple[str, list[str], int]]  # (country code, prefixes, national length)


def _all_completions(pattern: re.Pattern[str], avoid: re.Pattern[str] | None, prefix: str,
                     length: int) -> bool:
    rest = length - len(prefix) - 1
    tails = ["0" * rest, "9" * rest, ("13579" * 4)[:rest], ("86420" * 4)[:rest]]
    for digit in "0123456789":
        for tail in tails:
            number = prefix + digit + tail
            if not pattern.fullmatch(number) or (avoid is not None and avoid.fullmatch(number)):
                return False
    return True


def build_numbering() -> Numbering:
    """Prefixes whose every completion is valid, read from libphonenumber's metadata patterns
    (fast regex checks instead of rejection sampling; tests re-check generated numbers)."""
    import phonenumbers

    india = phonenumbers.PhoneMetadata.metadata_for_region("IN")
    mobile = re.compile(india.mobile.national_number_pattern)
    fixed = re.compile(india.fixed_line.national_number_pattern)
    mobiles = [str(p) for p in range(6000, 10000) if _all_completions(mobile, fixed, str(p), 10)]
    fixeds = [p for p in FIXED_PREFIXES if _all_completions(fixed, mobile, p, 10)]
    foreign = []
    for region, code, prefixes, length in FOREIGN:
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
        pattern = re.compile(meta.mobile.national_number_pattern if region != "US"
                             else meta.fixed_line.national_number_pattern)
        good = [p for p in prefixes if _all_completions(pattern, None, p, length)]
        if good:
            foreign.append((code, good, length))
    if not mobiles or not fixeds or not foreign:
        raise SystemExit("phonenumbers metadata gave no valid prefixes")
    return Numbering(mobiles, fixeds, foreign)


class Bijection:
    """Index -> distinct number: i -> (a*i + b) mod M over prefix x suffix space."""

    def __init__(self, prefixes: list[str], suffix_digits: int, salt: int) -> None:
        self.prefixes = prefixes
        self.scale = 10 ** suffix_digits
        self.size = len(prefixes) * self.scale
        self.mult = 2_654_435_761
        while _gcd(self.mult, self.size) != 1:
            self.mult += 2
        self.offset = salt % self.size
        self.digits = suffix_digits
        self.next_index = 0

    def take(self) -> str:
        if self.next_index >= self.size:
            raise SystemExit("number space exhausted")
        value = (self.mult * self.next_index + self.offset) % self.size
        self.next_index += 1
        prefix, suffix = divmod(value, self.scale)
        return f"{self.prefixes[prefix]}{suffix:0{self.digits}d}"


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _is_placeholder(national: str) -> bool:
    return national in PLACEHOLDER_NATIONALS or len(set(national[1:])) <= 1


@dataclass
class Person:
    person_id: int
    kind: str  # mobile | fixed | foreign
    national: str  # digits without country code (Indian) or all digits incl. code (foreign)
    e164: str
    name: str
    email: str
    city: str
    branch: int


@dataclass
class Counters:
    persons: int = 0
    customers: int = 0
    linked: int = 0
    per_source: dict[int, int] = field(default_factory=dict)
    forms: dict[str, int] = field(default_factory=dict)


def _cell(value: str | None) -> str:
    """None -> unquoted empty (NULL); "" -> quoted empty (an empty string). Only for values that
    never hold a comma, quote or newline (phones, names, ids)."""
    if value is None:
        return ""
    return value or '""'


class Clock:
    """Unix seconds -> 'YYYY-MM-DD HH:MM:SS+05:30' without a datetime per row (days cached)."""

    def __init__(self) -> None:
        self.days: dict[int, str] = {}

    def __call__(self, seconds: int) -> str:
        local = seconds + 19_800
        day, rest = divmod(local, 86_400)
        text = self.days.get(day)
        if text is None:
            text = datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")
            self.days[day] = text
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{text} {hours:02d}:{minutes:02d}:{secs:02d}+05:30"


def _pick(values: list, fraction: float):
    """values[fraction * len]: a uniform choice from one rng.random() draw (faster than choice)."""
    return values[int(fraction * len(values))]


def _picker(rng: random.Random, values: tuple, weights: tuple) -> Callable[[], object]:
    """A fast weighted choice (random.choices recomputes its table on every call)."""
    total = sum(weights)
    cumulative = []
    running = 0.0
    for weight in weights:
        running += weight / total
        cumulative.append(running)
    cumulative[-1] = 1.0
    draw = rng.random

    def pick() -> object:
        return values[bisect_right(cumulative, draw())]

    return pick


class Generator:
    def __init__(self, rows: int, seed: int, out: Path) -> None:
        self.rows = rows
        self.rng = random.Random(seed)
        self.out = out
        self.numbering = build_numbering()
        self.mobiles = Bijection(self.numbering.mobile_prefixes, 6, seed * 7919 + 17)
        self.fixeds = Bijection(self.numbering.fixed_prefixes, 6, seed * 104_729 + 3)
        self.foreign = [Bijection(prefixes, length - len(prefixes[0]), seed + index)
                        for index, (_, prefixes, length) in enumerate(self.numbering.foreign)]
        self.shared_customers: dict[str, int] = {}  # junk and truncated strings, shared by people
        self.pending: dict[int, list[tuple]] = {}
        self.block = 0
        self.scheduled = 0
        self.next_lead_id = 1
        self.next_customer_id = 1
        self.counters = Counters()
        self.clock = Clock()
        rng = self.rng
        self.pick_count = _picker(rng, (1, 2, 3, 4, 5, 6, 8, 10), (34, 25, 17, 10, 6, 4, 2, 2))
        self.pick_source = _picker(rng, (1, 2, 3), tuple(SOURCE_WEIGHTS))
        self.pick_old_status = _picker(rng, tuple(STATUSES_OLD[0]), tuple(STATUSES_OLD[1]))
        self.pick_new_status = _picker(rng, tuple(STATUSES_NEW[0]), tuple(STATUSES_NEW[1]))

    # --- people -----------------------------------------------------------------------------
    def new_person(self) -> Person:
        rng = self.rng
        self.counters.persons += 1
        person_id = self.counters.persons
        roll = rng.random()
        if roll < 0.94:
            kind = "mobile"
            national = self.mobiles.take()
            while _is_placeholder(national):
                national = self.mobiles.take()
            e164 = "+91" + national
        elif roll < 0.97:
            kind = "fixed"
            national = self.fixeds.take()
            e164 = "+91" + national
        else:
            kind = "foreign"
            index = rng.randrange(len(self.foreign))
            code = self.numbering.foreign[index][0]
            national = code + self.foreign[index].take()
            e164 = "+" + national
        draw = rng.random
        first, last = _pick(FIRST, draw()), _pick(LAST, draw())
        name = _pick(DEVANAGARI, draw()) if draw() < 0.02 else f"{first} {last}"
        email = f"{first.lower()}.{last.lower()}{person_id % 997}@gmail.com" \
            if draw() < 0.5 else ""
        return Person(person_id, kind, national, e164, name, email, _pick(CITIES, draw()),
                      _pick(BRANCHES, draw()))

    def stored_form(self, person: Person, source_id: int) -> tuple[str | None, str, str]:
        """(stored value, true_e164 or "", form label) for one lead of this person."""
        rng = self.rng
        roll = rng.random()
        national = person.national
        if roll < 0.04:
            return None, "", "null"
        if roll < 0.07:
            return "", "", "empty"
        if roll < 0.10:
            return _pick(JUNK, rng.random()), "", "junk"
        if roll < 0.12 and person.kind != "foreign":
            return national[:rng.randrange(5, 10)], "", "truncated"
        if person.kind == "foreign":
            if source_id == 3 and rng.random() < 0.3:
                return "+" + national, person.e164, "plus_foreign"
            return national, person.e164, "all_digits_foreign"
        if source_id == 1:  # Meta webhook script: last 10 digits of whatever arrived
            return national, person.e164, "last10"
        if source_id == 2:  # call-log sync: every digit of customer_number
            form = rng.random()
            if form < 0.45:
                return "91" + national, person.e164, "all_digits_91"
            if form < 0.70 or person.kind == "fixed":
                if person.kind == "fixed" and form < 0.85:
                    return "0" + national, person.e164, "trunk0"
                return national, person.e164, "last10"
            return "0" + national, person.e164, "trunk0"
        form = rng.random()  # walk-in: as the receptionist typed it
        if form < 0.35:
            return national, person.e164, "last10"
        if form < 0.55:
            return "+91" + national, person.e164, "plus91"
        if form < 0.70:
            return f"+91 {national[:5]}-{national[5:]}", person.e164, "spaced"
        if form < 0.85:
            return f"{national[:5]} {national[5:]}", person.e164, "spaced"
        if form < 0.93:
            return f"0{national[:5]}-{national[5:]}", person.e164, "spaced"
        return "0" + national, person.e164, "trunk0"

    def schedule_person(self) -> None:
        rng = self.rng
        person = self.new_person()
        count = self.pick_count()
        count = min(count, self.rows - self.scheduled)
        own_customers: dict[str, int] = {}
        for number in range(count):
            source_id = self.pick_source()
            stored, true_e164, form = self.stored_form(person, source_id)
            self.counters.forms[form] = self.counters.forms.get(form, 0) + 1
            customer_id = None
            if stored:
                if form in ("junk", "truncated"):
                    customer_id = self.shared_customers.get(stored)
                    if customer_id is None:
                        customer_id = self.new_customer(stored, person)
                        self.shared_customers[stored] = customer_id
                else:  # unique to this person by construction of the numbering
                    customer_id = own_customers.get(stored)
                    if customer_id is None:
                        customer_id = self.new_customer(stored, person)
                        own_customers[stored] = customer_id
                if rng.random() >= 0.65:
                    customer_id = None
            branch = person.branch if rng.random() < 0.8 else rng.choice(BRANCHES)
            offset = 0 if number == 0 else min(int(rng.expovariate(1 / 12)), MAX_SPREAD_BLOCKS)
            row = (person, stored, true_e164, source_id, branch, customer_id)
            self.pending.setdefault(self.block + offset, []).append(row)
        self.scheduled += count

    def new_customer(self, stored: str, person: Person) -> int:
        customer_id = self.next_customer_id
        self.next_customer_id += 1
        self.counters.customers += 1
        name = person.name if self.rng.random() < 0.9 else ""
        self.customers_out.write(
            f"{customer_id},{stored},{_cell(name)},{_cell(person.email)},"
            f"{_cell(person.city)},{BACKFILL_AT},{BACKFILL_AT}\n")
        return customer_id

    # --- leads ------------------------------------------------------------------------------
    def flush_block(self, block: int) -> None:
        rows = self.pending.pop(block, [])
        if not rows:
            return
        rng = self.rng
        rng.shuffle(rows)
        position = (self.next_lead_id - 1) / self.rows  # time follows the lead id
        base = START.timestamp() + position * SPAN_SECONDS
        width = len(rows) / self.rows * SPAN_SECONDS
        times = sorted(int(base + rng.random() * width) for _ in rows)
        pick_status = self.pick_old_status if position < 0.85 else self.pick_new_status
        clock, random_ = self.clock, rng.random
        getrandbits = rng.getrandbits
        per_source = self.counters.per_source
        lead_lines, truth_lines = [], []
        linked = 0
        lead_id = self.next_lead_id
        for (person, stored, true_e164, source_id, branch, customer_id), ts in zip(rows, times, strict=True):
            created = clock(ts)
            updated = clock(ts + int(random_() * 2_592_000))
            shown = "" if stored is None else stored
            # raw_payload is written CSV-quoted already (JSON quotes doubled)
            if source_id == 2:
                hexed = "%032x" % getrandbits(128)
                external = (f"{hexed[:8]}-{hexed[8:12]}-4{hexed[13:16]}-"
                            f"{'89ab'[int(random_() * 4)]}{hexed[17:20]}-{hexed[20:]}")
                payload = (f'"{{""uuid"": ""{external}"", ""customer_number"": ""{shown}"", '
                           f'""knowlarity_number"": ""{KNOWLARITY_NUMBERS[branch % 4]}"", '
                           f'""call_duration"": {int(random_() * 400)}}}"')
            elif source_id == 1:
                external = str(1_200_000_000_000_000 + lead_id * 104_729)
                payload = (f'"{{""id"": ""{external}"", ""form_id"": ""{META_FORMS[branch % 4]}""'
                           f', ""field_data"": [{{""name"": ""phone_number"", ""values"": '
                           f'[""{shown}""]}}]}}"')
            else:
                external, payload = "", ""
            name = person.name
            if random_() < 0.1:
                name = name.split()[0] if random_() < 0.5 else name.lower()
            alternate = ""
            if random_() < 0.04 and person.kind != "foreign":
                alternate = "0" + person.national
            assigned = str(100 + int(random_() * 40)) if random_() < 0.8 else ""
            if customer_id is None:
                customer_text = ""
            else:
                customer_text = customer_id
                linked += 1
            per_source[source_id] = per_source.get(source_id, 0) + 1
            lead_lines.append(
                f"{lead_id},{name},{_cell(stored)},{alternate},{source_id},{external},"
                f"{pick_status()},{payload},{assigned},{branch},{customer_text},"
                f"{created},{updated}\n")
            truth_lines.append(f"{lead_id},{person.person_id},{true_e164}\n")
            lead_id += 1
        self.next_lead_id = lead_id
        self.counters.linked += linked
        self.leads_out.write("".join(lead_lines))
        self.truth_out.write("".join(truth_lines))

    def run(self) -> Counters:
        self.out.mkdir(parents=True, exist_ok=True)
        with open(self.out / "customers.csv", "w", encoding="utf-8", newline="") as customers, \
                open(self.out / "leads_master.csv", "w", encoding="utf-8", newline="") as leads, \
                open(self.out / "truth.csv", "w", encoding="utf-8", newline="") as truth:
            self.customers_out: TextIO = customers
            self.leads_out: TextIO = leads
            self.truth_out: TextIO = truth
            customers.write("id,phone_number_normalized,full_name,email,city,created_at,"
                            "updated_at\n")
            leads.write("id,full_name,phone_number_normalized,alternate_phone_number,source_id,"
                        "external_lead_id,status,raw_payload,assigned_to,branch_id,customer_id,"
                        "created_at,updated_at\n")
            truth.write("lead_id,person_id,true_e164\n")
            while self.scheduled < self.rows:
                self.schedule_person()
                if len(self.pending.get(self.block, ())) >= BLOCK:
                    self.flush_block(self.block)
                    self.block += 1
            for block in sorted(self.pending):
                self.flush_block(block)
        with open(self.out / "sources.csv", "w", encoding="utf-8", newline="") as sources:
            sources.write("id,display_name,source_type,total_leads_count,todays_leads_count\n")
            for source_id, name, kind in SOURCES:
                total = self.counters.per_source.get(source_id, 0)
                drift = self.rng.randrange(0, 1 + total // 200)  # racy counters lag behind
                sources.write(f"{source_id},{name},{kind},{total - drift},0\n")
        return self.counters


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Synthetic CRM export (sources, customers, leads_master) plus truth.csv, "
                    "streamed to disk.",
        epilog=FORMAT_NOTE, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, required=True, help="leads_master rows to write")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--quiet", action="store_true", help="no summary on stderr")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    return args


def main(argv: list[str] | None = None, clock: Callable[[], float] = time.perf_counter) -> int:
    args = parse_args(argv)
    started = clock()
    counters = Generator(args.rows, args.seed, args.out).run()
    if not args.quiet:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        forms = ", ".join(f"{name} {count}" for name, count in sorted(counters.forms.items()))
        print(f"leads {args.rows}, persons {counters.persons}, naive customers "
              f"{counters.customers}, linked {counters.linked}; forms: {forms}; "
              f"{clock() - started:.1f} s, peak RSS {peak_mb:.0f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

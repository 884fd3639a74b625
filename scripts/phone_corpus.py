"""A broad, messy corpus of phone strings and the oracle that judges them (the `phonenumbers`
library: parse(raw, region) -> is_valid_number -> format E.164). Used by
scripts/generate_phone_cases.py (the dbt case test) and benchmarks/phone_agreement.py.

The corpus is built from libphonenumber's own example numbers for every region and type and from
random Indian numbers, written the ways people and the CRM's sources write them, then decorated
(spaces, dashes, dots, brackets, prefixes, extensions, other scripts' digits) and damaged
(truncated, extended, junk). It is not tuned to the SQL implementation.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from pathlib import Path

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType
from phonenumbers.phonenumberutil import ValidationResult

ROOT = Path(__file__).resolve().parents[1]
TYPES = [PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE,
         PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST, PhoneNumberType.VOIP,
         PhoneNumberType.PERSONAL_NUMBER, PhoneNumberType.PAGER, PhoneNumberType.UAN,
         PhoneNumberType.VOICEMAIL]
EMPTY_CHARS = " \t\n\r\x0b\x0c\xa0\u200b\u2060\u3000"
DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")
FULLWIDTH = str.maketrans("0123456789+", "０１２３４５６７８９＋")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
JUNK = ["anonymous", "NA", "N/A", "+91", "0", "null", "-", "not given", "<test lead: dummy data for phone_number>",
        "9999999999", "1234567890", "9876543210", "0000000000", "1111111111", "+910000000000",
        "abc", "call me", "98765", "12", "+", "00", "0091", "9", "+1", "+44 ", "tel:", "???"]
INDIAN_STD = ["11", "22", "33", "40", "44", "80", "79", "20", "484", "172", "141", "522"]


def _test_numbers() -> set[str]:
    path = ROOT / "seeds" / "phone_test_numbers.csv"
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["phone_e164"] for row in csv.DictReader(handle)}


def is_test_national_number(national: str) -> bool:
    if len(set(national)) == 1 and len(national) > 1:
        return True
    if len(national) >= 6 and (national in "01234567890123456789012345"
                               or national in "98765432109876543210987654"):
        return True
    return False


def oracle(raw: str | None, region: str = "IN", test_numbers: set[str] | None = None) -> tuple[str | None, str | None]:
    """(e164, unusable_reason) as leadlink defines them on top of libphonenumber's verdict."""
    test_numbers = _test_numbers() if test_numbers is None else test_numbers
    if raw is None or raw.strip(EMPTY_CHARS) == "":
        return None, "empty"
    try:
        number = phonenumbers.parse(raw, region)
    except NumberParseException as error:
        return None, {
            NumberParseException.NOT_A_NUMBER: "not_a_number",
            NumberParseException.INVALID_COUNTRY_CODE: "invalid",
            NumberParseException.TOO_SHORT_AFTER_IDD: "too_short",
            NumberParseException.TOO_SHORT_NSN: "too_short",
            NumberParseException.TOO_LONG: "too_long",
        }[error.error_type]
    if not phonenumbers.is_valid_number(number):
        reason = phonenumbers.is_possible_number_with_reason(number)
        return None, {ValidationResult.TOO_SHORT: "too_short",
                      ValidationResult.TOO_LONG: "too_long"}.get(reason, "invalid")
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    national = phonenumbers.national_significant_number(number)
    if is_test_national_number(national) or e164 in test_numbers:
        return e164, "test_number"
    return e164, None


def _decorate(rng: random.Random, digits: str) -> str:
    """Insert separators people type between digit groups."""
    separator = rng.choice([" ", "-", ".", " ", "", "\xa0", " - ", "/"])
    out, index = [], 0
    while index < len(digits):
        size = rng.choice([2, 3, 4, 5])
        out.append(digits[index:index + size])
        index += size
    text = separator.join(out)
    if rng.random() < 0.15 and len(out) > 1:
        text = f"({out[0]}) " + separator.join(out[1:])
    return text


def _indian_mobile(rng: random.Random) -> str:
    return rng.choice("6789") + "".join(rng.choice("0123456789") for _ in range(9))


def _indian_landline(rng: random.Random) -> str:
    std = rng.choice(INDIAN_STD)
    return std + rng.choice("23456") + "".join(rng.choice("0123456789") for _ in range(9 - len(std)))


def _writings_of_indian(rng: random.Random, national: str) -> list[str]:
    return [f"+91{national}", national, f"0{national}", f"91{national}", f"0091{national}",
            f"+91 {_decorate(rng, national)}", f"0{_decorate(rng, national)}",
            f"+91 (0) {_decorate(rng, national)}", f"+91-{national}", _decorate(rng, national),
            f"{national[:5]} {national[5:]}", f"91 {national}", f"+91{national[:-1]}",
            f"{national}{rng.choice('0123456789')}", national[-8:], f"+{national}",
            f"00{national}", f"{national} ext. {rng.randint(1, 999)}", f"{national} x{rng.randint(1, 99)}",
            f"Mob: {national}", f"{national} (whatsapp)", national.translate(DEVANAGARI),
            national.translate(FULLWIDTH), f"+91\xa0{national}", f"+91 {national}".translate(ARABIC_INDIC),
            f"{national}/ {rng.randint(6, 9)}{national[1:]}", f"{national};ext=12", f"tel:+91-{national}"]


def _example_numbers() -> Iterator[phonenumbers.PhoneNumber]:
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for number_type in TYPES:
            example = phonenumbers.example_number_for_type(region, number_type)
            if example is not None:
                yield example
    for calling_code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        example = phonenumbers.example_number_for_non_geo_entity(calling_code)
        if example is not None:
            yield example


def _writings_of_foreign(rng: random.Random, number: phonenumbers.PhoneNumber) -> list[str]:
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    national_format = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    nsn = phonenumbers.national_significant_number(number)
    code = str(number.country_code)
    return [e164, international, national_format, "00" + e164[1:], e164[1:], f"+{code} {_decorate(rng, nsn)}",
            f"+{code} 0{nsn}", f"+{code}{nsn[:-1]}", f"+{code}{nsn}{rng.choice('0123456789')}",
            phonenumbers.format_number(number, PhoneNumberFormat.RFC3966), f"{international} ext 7",
            international.translate(FULLWIDTH), nsn]


def corpus(size: int, seed: int = 7) -> list[str]:
    """`size` strings, deterministic for a seed; every family is represented."""
    rng = random.Random(seed)
    examples = list(_example_numbers())
    out: list[str] = []
    families = ["indian_mobile", "indian_landline", "foreign", "junk", "random_digits", "random_text"]
    weights = [40, 10, 30, 5, 12, 3]
    while len(out) < size:
        family = rng.choices(families, weights)[0]
        if family == "indian_mobile":
            out.append(rng.choice(_writings_of_indian(rng, _indian_mobile(rng))))
        elif family == "indian_landline":
            out.append(rng.choice(_writings_of_indian(rng, _indian_landline(rng))))
        elif family == "foreign":
            out.append(rng.choice(_writings_of_foreign(rng, rng.choice(examples))))
        elif family == "junk":
            out.append(rng.choice(JUNK))
        elif family == "random_digits":
            digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 18)))
            out.append(rng.choice(["", "+", "0", "00", "+91", "91"]) + digits)
        else:
            alphabet = "0123456789 +-()abcxyzEXT#.,;/\xa0"
            out.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))))
    return out


def systematic_cases(seed: int = 11) -> list[str]:
    """Every example number of every region and type in several writings, plus every Indian
    writing and the junk list: the cases the dbt test pins down."""
    rng = random.Random(seed)
    cases: list[str] = list(JUNK) + ["", " ", "\xa0"]
    for number in _example_numbers():
        writings = _writings_of_foreign(rng, number)
        cases.extend(rng.sample(writings, 4))
    for _ in range(12):
        cases.extend(_writings_of_indian(rng, _indian_mobile(rng)))
    for _ in range(6):
        cases.extend(_writings_of_indian(rng, _indian_landline(rng)))
    cases += ["080 4000 1234", "+918040001234", "(080) 4000-1234", "022 4000 5678", "+971501234567",
              "00971501234567", "+447911123456", "07911 123456", "+1 650 253 0000", "+12025550147"]
    return list(dict.fromkeys(cases))

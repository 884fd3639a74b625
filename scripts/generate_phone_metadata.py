"""Generate the phone-number data the SQL normaliser reads, from the installed `phonenumbers`.

    make phone-metadata        # or: python scripts/generate_phone_metadata.py

Writes (all committed, stamped with the phonenumbers version they came from):
  seeds/phone_regions.csv          one row per region (and per non-geographic calling code):
                                   calling code, IDD and national-prefix rules, the general
                                   pattern and possible lengths, leading digits, rank within
                                   the calling code
  seeds/phone_valid_patterns.csv   per region and national-number length: one regex that is
                                   the union of every number type valid at that length
  macros/phone/_phone_parsing_data.sql
                                   the generic parsing regexes of libphonenumber (viability,
                                   extension, trailing junk) translated to PostgreSQL, and the
                                   Unicode digit / keypad translation maps
Nothing here is hand-written country knowledge: rerun after upgrading phonenumbers.
"""

from __future__ import annotations

import csv
import re
import sys
import unicodedata
from pathlib import Path

import phonenumbers
from phonenumbers import phonenumberutil as util
from phonenumbers.phonemetadata import PhoneMetadata

ROOT = Path(__file__).resolve().parents[1]
TYPE_DESCS = ["premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager",
              "uan", "voicemail", "fixed_line", "mobile"]


def pg_regex(pattern: str) -> str:
    """Python regex -> PostgreSQL ARE. The metadata uses a small common subset; digits are
    translated to ASCII before matching, so \\d becomes [0-9]."""
    if "(?P" in pattern or "(?<" in pattern:
        raise ValueError(f"unsupported construct in {pattern!r}")
    out: list[str] = []
    in_bracket = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            pair = pattern[index:index + 2]
            if pair == "\\d":
                out.append("0-9" if in_bracket else "[0-9]")
            else:
                out.append(pair)
            index += 2
            continue
        if char == "[" and not in_bracket:
            in_bracket = True
        elif char == "]" and in_bracket:
            in_bracket = False
        out.append(char)
        index += 1
    return "".join(out)


def pg_replacement(rule: str | None) -> str:
    return re.sub(r"\$(\d)", r"\\\1", rule or "")


def lengths(desc) -> list[int]:
    if desc is None:
        return []
    return [length for length in desc.possible_length if length > 0]


def region_rows() -> tuple[list[dict], list[dict]]:
    regions: list[dict] = []
    patterns: list[dict] = []
    for country_code, region_codes in sorted(util.COUNTRY_CODE_TO_REGION_CODE.items()):
        for rank, region_code in enumerate(region_codes):
            if region_code == util.REGION_CODE_FOR_NON_GEO_ENTITY:
                metadata = PhoneMetadata.metadata_for_nongeo_region(country_code)
                key = f"001-{country_code}"
            else:
                metadata = PhoneMetadata.metadata_for_region(region_code)
                key = region_code
            if metadata is None:
                continue
            general = metadata.general_desc
            general_lengths = lengths(general)
            general_pattern = pg_regex(general.national_number_pattern or "")
            prefix = pg_regex(metadata.national_prefix_for_parsing or "")
            idd = pg_regex(metadata.international_prefix or "")
            leading = pg_regex(metadata.leading_digits or "")
            # Patterns are stored anchored, ready for `~`: ^(?:p) is a prefix match (Python's
            # re.match), ^(?:p)$ a full match, ^(p) captures the matched prefix to measure it.
            regions.append({
                "region_code": key,
                "country_code": country_code,
                "region_rank": rank,
                "region_count": len(region_codes),
                "idd_prefix_pattern": f"^(?:{idd})" if idd else "",
                "idd_capture_pattern": f"^({idd})" if idd else "",
                "national_prefix_pattern": f"^(?:{prefix})" if prefix else "",
                "national_prefix_capture_pattern": f"^({prefix})" if prefix else "",
                "national_prefix_transform_rule": pg_replacement(metadata.national_prefix_transform_rule),
                "national_prefix_groups": re.compile(metadata.national_prefix_for_parsing).groups
                if metadata.national_prefix_for_parsing else 0,
                "general_pattern": f"^(?:{general_pattern})$" if general_pattern else "",
                "possible_lengths": "{" + ",".join(map(str, general_lengths)) + "}",
                "local_only_lengths": "{" + ",".join(
                    str(length) for length in general.possible_length_local_only or () if length > 0) + "}",
                "min_length": min(general_lengths) if general_lengths else "",
                "max_length": max(general_lengths) if general_lengths else "",
                "leading_digits_pattern": f"^(?:{leading})" if leading else "",
            })
            by_length: dict[int, list[str]] = {}
            for name in TYPE_DESCS:
                desc = getattr(metadata, name, None)
                if desc is None or not desc.national_number_pattern:
                    continue
                type_lengths = lengths(desc) or general_lengths
                if desc.possible_length and desc.possible_length[0] == -1:
                    continue
                for length in type_lengths:
                    by_length.setdefault(length, []).append(pg_regex(desc.national_number_pattern))
            for length, alternatives in sorted(by_length.items()):
                unique = list(dict.fromkeys(alternatives))
                patterns.append({"region_code": key, "nsn_length": length,
                                 "valid_pattern": "^(?:" + "|".join(f"(?:{alt})" for alt in unique) + ")$"})
    return regions, patterns


def char_ranges(predicate) -> str:
    """A bracket-expression body covering every code point for which predicate holds."""
    ranges: list[tuple[int, int]] = []
    start = None
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            ok = False
        else:
            ok = predicate(chr(code))
        if ok and start is None:
            start = code
        elif not ok and start is not None:
            ranges.append((start, code - 1))
            start = None
    if start is not None:
        ranges.append((start, sys.maxunicode))

    def literal(code: int) -> str:
        char = chr(code)
        return "\\" + char if char in "\\]^-[" else char

    return "".join(literal(a) if a == b else f"{literal(a)}-{literal(b)}" for a, b in ranges)


def translate_map(predicate_value) -> tuple[str, str]:
    source, target = [], []
    for code in range(0x80, sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        value = predicate_value(chr(code))
        if value is not None:
            source.append(chr(code))
            target.append(str(value))
    return "".join(source), "".join(target)


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


FAST_PATH_REGION = "IN"
FAST_PATH_LENGTH = 10


def fast_path_pattern(patterns: list[dict]) -> str:
    """The home region's valid-number pattern at its usual length, for the fast path."""
    for row in patterns:
        if row["region_code"] == FAST_PATH_REGION and row["nsn_length"] == FAST_PATH_LENGTH:
            return row["valid_pattern"]
    raise SystemExit(f"no {FAST_PATH_LENGTH}-digit pattern for {FAST_PATH_REGION}")


def parsing_macro(patterns: list[dict]) -> str:
    punctuation = util._VALID_PUNCTUATION
    viable = pg_regex(util._VALID_PHONE_NUMBER_PATTERN.pattern)
    extension = pg_regex(util._EXTN_PATTERN.pattern)
    # Python's \w is Unicode-aware (str.isalnum() or '_'); spell it out for PostgreSQL.
    word = char_ranges(lambda char: char.isalnum() or char == "_")
    unwanted_end = f"(?:_|[^#{word}])+$"
    decimal_source, decimal_target = translate_map(
        lambda char: unicodedata.decimal(char, None) if unicodedata.category(char) == "Nd" else None)
    digit_source, digit_target = translate_map(
        lambda char: unicodedata.digit(char, None) if unicodedata.category(char) != "Nd" else None)
    alpha_source = "".join(util._ALPHA_MAPPINGS.keys())
    alpha_target = "".join(util._ALPHA_MAPPINGS[key] for key in util._ALPHA_MAPPINGS)
    data = {
        "phonenumbers_version": phonenumbers.__version__,
        "viable_pattern": "^(?:" + viable + ")$",
        "extension_pattern": extension,
        "unwanted_end_pattern": unwanted_end,
        "second_number_pattern": pg_regex(util._SECOND_NUMBER_START_PATTERN.pattern),
        "alpha_phone_pattern": "^(?:" + pg_regex(util._VALID_ALPHA_PHONE_PATTERN.pattern) + ")$",
        "decimal_digits_from": decimal_source,
        "decimal_digits_to": decimal_target,
        "other_digits_from": digit_source,
        "other_digits_to": digit_target,
        "alpha_from": alpha_source,
        "alpha_to": alpha_target,
        "plus_chars": util._PLUS_CHARS,
        "punctuation": punctuation,
        "fast_path_region": FAST_PATH_REGION,
        "fast_path_country_code": str(phonenumbers.country_code_for_region(FAST_PATH_REGION)),
        "fast_path_valid_pattern": fast_path_pattern(patterns),
        # Most numbers are mobiles: trying the (smaller) mobile pattern first is 3x cheaper.
        "fast_path_mobile_pattern": "^(?:" + pg_regex(
            PhoneMetadata.metadata_for_region(FAST_PATH_REGION).mobile.national_number_pattern) + ")$",
    }
    lines = [
        "{#- GENERATED by scripts/generate_phone_metadata.py from phonenumbers "
        f"{phonenumbers.__version__}. Do not edit: rerun `make phone-metadata`. -#}}",
        "",
        "{% macro phone_parsing_data() %}",
        "    {{ return({",
    ]
    for key, value in data.items():
        lines.append(f"        {sql_literal(key)}: {sql_literal(str(value))},")
    lines += ["    }) }}", "{% endmacro %}", ""]
    return "\n".join(lines)


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    regions, patterns = region_rows()
    write_csv(ROOT / "seeds" / "phone_regions.csv", regions)
    write_csv(ROOT / "seeds" / "phone_valid_patterns.csv", patterns)
    (ROOT / "macros" / "phone" / "_phone_parsing_data.sql").write_text(parsing_macro(patterns),
                                                                        encoding="utf-8")
    print(f"phonenumbers {phonenumbers.__version__}: {len(regions)} regions, "
          f"{len(patterns)} (region, length) patterns")


if __name__ == "__main__":
    main()

"""Phone normalisation throughput: SQL (the installed parse_phones, one backend, no parallel
workers) beside Python `phonenumbers` (parse + is_valid_number + format E.164, one core) on the
same values, in the same run.

    .venv/bin/python benchmarks/phone_throughput.py [--size 1000000] [--mix crm|broad]

`crm`: how phones arrive here (90% Indian numbers in every writing the sources use, 5% foreign,
5% junk); `broad`: the agreement corpus (a third foreign, many malformed).
"""

from __future__ import annotations

import argparse
import random
import time

import phonenumbers
from _phone_bench_common import database, function_schema, sql_parse
from phone_corpus import JUNK, _example_numbers, _writings_of_foreign, _writings_of_indian, corpus
from phonenumbers import NumberParseException


def crm_mix(size: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    examples = list(_example_numbers())
    values = []
    for _ in range(size):
        roll = rng.random()
        if roll < 0.90:
            national = rng.choice("6789") + "".join(rng.choice("0123456789") for _ in range(9))
            writing = rng.choice(["+91{n}", "{n}", "0{n}", "91{n}", "+91 {a} {b}", "{a} {b}",
                                  "+91-{n}", "0{a}-{b}", "+91 (0) {a} {b}"] + ["*"])
            if writing == "*":
                values.append(rng.choice(_writings_of_indian(rng, national)))
            else:
                values.append(writing.format(n=national, a=national[:5], b=national[5:]))
        elif roll < 0.95:
            values.append(rng.choice(_writings_of_foreign(rng, rng.choice(examples))))
        else:
            values.append(rng.choice(JUNK))
    return values


def python_rate(values: list[str]) -> float:
    started = time.perf_counter()
    for raw in values:
        try:
            number = phonenumbers.parse(raw, "IN")
        except NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return len(values) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--mix", choices=["crm", "broad"], default="crm")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    settings, url = database()
    values = crm_mix(args.size, args.seed) if args.mix == "crm" else corpus(args.size, seed=args.seed)
    values = [value.replace("\x00", "") for value in values]
    _, sql_seconds = sql_parse(url, function_schema(settings), values)
    _, parallel_seconds = sql_parse(url, function_schema(settings), values, parallel=True)
    python = python_rate(values)
    sql = len(values) / sql_seconds
    parallel = len(values) / parallel_seconds
    print(f"{len(values):,} values, mix {args.mix}, phonenumbers {phonenumbers.__version__}")
    print(f"python phonenumbers, 1 core:       {python:>10,.0f} numbers/s")
    print(f"SQL parse_phones, 1 backend:       {sql:>10,.0f} numbers/s  ratio {sql / python:.1f}x")
    print(f"SQL parse_phones, parallel allowed: {parallel:>9,.0f} numbers/s  ratio {parallel / python:.1f}x")


if __name__ == "__main__":
    main()

"""Agreement of the SQL normaliser with libphonenumber on a large, broad, messy corpus.

    .venv/bin/python benchmarks/phone_agreement.py [--size 200000] [--seed 1]

Prints the share of inputs where the SQL answer (E.164, and E.164 + reason) equals the
`phonenumbers` answer, and a sample of disagreements.
"""

from __future__ import annotations

import argparse
import collections

import phonenumbers
from _phone_bench_common import database, function_schema, sql_parse
from phone_corpus import corpus, oracle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    settings, url = database()
    values = [value.replace("\x00", "") for value in corpus(args.size, seed=args.seed)]
    answers, seconds = sql_parse(url, function_schema(settings), values, parallel=True)
    same_e164 = same_both = 0
    disagreements: collections.Counter = collections.Counter()
    examples = []
    for raw, (e164, reason) in zip(values, answers, strict=True):
        expected_e164, expected_reason = oracle(raw)
        if e164 == expected_e164:
            same_e164 += 1
            if reason == expected_reason:
                same_both += 1
                continue
        disagreements[(expected_reason, reason)] += 1
        if len(examples) < 15:
            examples.append((raw, expected_e164, expected_reason, e164, reason))
    total = len(values)
    print(f"phonenumbers {phonenumbers.__version__}; corpus {total:,} values (seed {args.seed}), "
          f"{len(set(values)):,} distinct; SQL took {seconds:.1f} s")
    print(f"agreement on E.164:          {same_e164 / total:.5%} ({total - same_e164} differ)")
    print(f"agreement on E.164 + reason: {same_both / total:.5%} ({total - same_both} differ)")
    for (expected, actual), count in disagreements.most_common(8):
        print(f"  expected reason {expected!s:>12} got {actual!s:>12}: {count}")
    for example in examples:
        print("  ", example)


if __name__ == "__main__":
    main()

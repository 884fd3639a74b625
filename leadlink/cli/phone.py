"""`leadlink phone normalize` (logic in leadlink.identity.phone)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from leadlink.cli.context import settings_of
from leadlink.identity.phone import ensure_functions, normalize_stream, read_lines
from leadlink.runtime.database import prepare

log = logging.getLogger("leadlink.phone")


@click.group()
def phone() -> None:
    """The phone normaliser (E.164, default region India), computed in the database."""


@phone.command("normalize")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--region", default="IN", show_default=True,
              help="Region for numbers written without a country code.")
@click.pass_context
def normalize_command(ctx: click.Context, files: tuple[Path, ...], region: str) -> None:
    """Read one raw value per line from FILES (stdin when none) and write CSV `input,e164,reason`.

    One output row per input line, in input order; an empty line is an input too. `e164` is
    empty when the number is not valid; `reason` says why a number cannot identify a person
    (empty, not_a_number, too_short, too_long, invalid, test_number). Streams: 1M lines are fine.
    """
    settings = settings_of(ctx)
    url = prepare(settings)
    ensure_functions(settings, url)
    count = normalize_stream(settings, url, read_lines(files, sys.stdin), sys.stdout, region.upper())
    log.info("normalised %d values", count)

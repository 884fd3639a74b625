"""`leadlink dbt ARGS...` and `leadlink exec -- CMD...`: dbt and tools with the project's profile."""

from __future__ import annotations

import sys

import click

from leadlink.cli.context import settings_of
from leadlink.runtime.database import prepare


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                               "help_option_names": []})
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def dbt(ctx: click.Context, dbt_args: tuple[str, ...]) -> None:
    """Run dbt against the current database with the project's profile, e.g. `leadlink dbt build`.

    Every argument goes to dbt (`leadlink dbt --help` shows dbt's help).
    """
    from leadlink.runtime.dbt_runner import run_dbt

    settings = settings_of(ctx)
    url = prepare(settings)
    # dbt's output goes through our stdout (line by line, as it runs), so whoever captures
    # leadlink's output (a test runner, a scheduler's log) gets dbt's too
    sys.exit(run_dbt(settings, url, list(dbt_args), stream=sys.stdout).returncode)


@click.command("exec", context_settings={"ignore_unknown_options": True})
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def exec_command(ctx: click.Context, command: tuple[str, ...]) -> None:
    """Run COMMAND with the dbt profile environment set (e.g. `leadlink exec -- sqlfluff lint`)."""
    from leadlink.runtime.dbt_runner import run_with_dbt_env

    settings = settings_of(ctx)
    sys.exit(run_with_dbt_env(settings, prepare(settings), command))



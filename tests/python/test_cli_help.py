"""Every command explains itself."""

from __future__ import annotations

import click
from click.testing import CliRunner

from leadlink.cli.main import cli


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield prefix + (name,), command
        if isinstance(command, click.Group):
            yield from _commands(command, prefix + (name,))


def test_every_command_has_help_text():
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"])
    assert top.exit_code == 0 and "LEADLINK_DATABASE_URL" in top.stdout
    for path, command in _commands(cli):
        assert (command.help or "").strip(), f"leadlink {' '.join(path)} has no help"
        if path == ("dbt",):
            continue  # its --help belongs to dbt
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Usage: " in result.stdout

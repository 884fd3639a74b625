"""What every command shares: the settings the root command read once."""

from __future__ import annotations

import click

from loaders.settings import Settings


def settings_of(ctx: click.Context) -> Settings:
    return ctx.find_root().obj["settings"]

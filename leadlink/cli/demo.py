"""`leadlink demo`: what `make demo` runs."""

from __future__ import annotations

from pathlib import Path

import click

from leadlink.cli.context import settings_of
from loaders.database import redact_url


@click.command()
@click.option("--fresh", is_flag=True, help="Start from an empty embedded database.")
@click.option("--samples", "samples_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Folder with knowlarity/, meta/, legacy/ (default: ./samples).")
@click.option("--quiet", is_flag=True, help="Less dbt output (only errors and the summary).")
@click.pass_context
def demo(ctx: click.Context, fresh: bool, samples_dir: Path | None, quiet: bool) -> None:
    """Load the sample data, run `dbt build`, and print a summary."""
    from leadlink.pipeline import demo as demo_steps
    from leadlink.runtime.dbt_runner import run_dbt

    settings = settings_of(ctx)
    url = demo_steps.resolve_for_demo(settings, fresh)
    loaded = demo_steps.load_samples(settings, url, samples_dir or settings.project_dir / "samples")
    for source, counts in loaded.per_source.items():
        click.echo(f"loaded {source}: landed {counts.landed}, already present "
                   f"{counts.already_present}, quarantined {counts.quarantined}")
    dbt_args = ["build"] + (["--quiet"] if quiet else [])
    result = run_dbt(settings, url, dbt_args)
    figures = demo_steps.summary(settings, url)
    click.echo("\nleadlink demo summary")
    for name, value in figures.items():
        click.echo(f"  {name:<18} {'not built' if value is None else value}")
    click.echo(f"\nLook next:\n  psql '{redact_url(url)}'\n  leadlink dbt docs generate"
               f" && leadlink dbt docs serve\n  leadlink readiness\n  leadlink crm install && leadlink lookup PHONE")
    if result.returncode != 0:
        raise click.ClickException(f"dbt build failed (exit {result.returncode})")



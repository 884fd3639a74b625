"""`leadlink serve`: the webhook receiver (leadlink.receiver) on uvicorn."""

from __future__ import annotations

import click

from leadlink.cli.context import settings_of
from leadlink.receiver.server import run_server
from leadlink.runtime.database import prepare
from loaders.database import redact_url


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="LEADLINK_SERVE_HOST",
              help="Address to listen on (keep 127.0.0.1 behind a reverse proxy).")
@click.option("--port", default=8080, show_default=True, type=int, envvar="LEADLINK_SERVE_PORT")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              envvar="LEADLINK_SERVE_WORKERS", help="Worker processes.")
@click.option("--graceful-timeout", default=30, show_default=True, type=int,
              help="Seconds to let requests in flight finish on SIGTERM.")
@click.option("--forwarded-allow-ips", default=None, envvar="LEADLINK_FORWARDED_ALLOW_IPS",
              help="Trust X-Forwarded-For/Proto from these proxy addresses (e.g. 127.0.0.1).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int, graceful_timeout: int,
          forwarded_allow_ips: str | None) -> None:
    """Receive Knowlarity and Meta webhooks (env META_APP_SECRET, META_VERIFY_TOKEN,
    KNOWLARITY_WEBHOOK_TOKEN; see docs/webhooks.md)."""
    settings = settings_of(ctx)
    url = prepare(settings)
    click.echo(f"leadlink serve: http://{host}:{port} ({workers} worker(s)), database "
               f"{redact_url(url)}", err=True)
    run_server(url, host, port, workers, graceful_timeout, forwarded_allow_ips)

"""`leadlink serve`: the webhook receiver (leadlink.receiver) on uvicorn."""

from __future__ import annotations

import click

from leadlink.cli.context import settings_of
from leadlink.receiver.server import run_server
from leadlink.runtime.database import prepare
from loaders.database import redact_url


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: LEADLINK_SERVE_HOST, else "
                                           "127.0.0.1; keep 127.0.0.1 behind a reverse proxy).")
@click.option("--port", default=None, type=click.IntRange(1, 65535),
              help="Port (default: LEADLINK_SERVE_PORT, else 8080).")
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help="Worker processes (default: LEADLINK_SERVE_WORKERS, else 1).")
@click.option("--graceful-timeout", default=30, show_default=True, type=int,
              help="Seconds to let requests in flight finish on SIGTERM.")
@click.option("--forwarded-allow-ips", default=None,
              help="Trust X-Forwarded-For/Proto from these proxy addresses, e.g. 127.0.0.1 "
                   "(default: LEADLINK_FORWARDED_ALLOW_IPS).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None,
          graceful_timeout: int, forwarded_allow_ips: str | None) -> None:
    """Receive Knowlarity and Meta webhooks (env META_APP_SECRET, META_VERIFY_TOKEN,
    KNOWLARITY_WEBHOOK_TOKEN; see docs/webhooks.md)."""
    settings = settings_of(ctx)
    hooks = settings.webhooks
    host = host or hooks.host
    port = port or hooks.port
    workers = workers or hooks.workers
    url = prepare(settings)
    click.echo(f"leadlink serve: http://{host}:{port} ({workers} worker(s)), database "
               f"{redact_url(url)}", err=True)
    run_server(url, host, port, workers, graceful_timeout, forwarded_allow_ips or hooks.forwarded_allow_ips)

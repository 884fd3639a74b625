"""`leadlink serve`: the receiver on uvicorn (uvloop + httptools), one or more worker processes.

The parent resolves the database (starting the embedded server if that is what is configured) and
applies migrations once; each worker process builds the app from the environment. SIGTERM/SIGINT
stop accepting connections, let requests in flight finish (up to --graceful-timeout seconds), then
stop the leadgen worker and close the pool.
"""

from __future__ import annotations

import os

import click

from loaders.database import prepare, redact_url
from loaders.webhooks.app import SERVE_URL_ENV

APP_FACTORY = "loaders.webhooks.app:create_app_from_environ"


def run_server(url: str, host: str, port: int, workers: int, graceful_timeout: int,
               forwarded_allow_ips: str | None) -> None:
    import uvicorn

    os.environ[SERVE_URL_ENV] = url
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="auto",
        http="auto",
        access_log=False,  # the access log would print query strings, which may carry the token
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        timeout_graceful_shutdown=graceful_timeout,
        server_header=False,
        log_level="info",
    )


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
    settings = ctx.find_root().obj["settings"]
    url = prepare(settings)
    click.echo(f"leadlink serve: http://{host}:{port} ({workers} worker(s)), database "
               f"{redact_url(url)}", err=True)
    run_server(url, host, port, workers, graceful_timeout, forwarded_allow_ips)

"""`leadlink serve`: the receiver on uvicorn (uvloop + httptools), one or more worker processes.

The parent resolves the database (starting the embedded server if that is what is configured) and
applies migrations once; each worker process builds the app from the environment. SIGTERM/SIGINT
stop accepting connections, let requests in flight finish (up to --graceful-timeout seconds), then
stop the leadgen worker and close the pool.
"""

from __future__ import annotations

import os

from leadlink.receiver.app import SERVE_URL_ENV
from leadlink.receiver.protocol import HeaderDeadlineProtocol

APP_FACTORY = "leadlink.receiver.app:create_app_from_environ"


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
        http=HeaderDeadlineProtocol,  # httptools, with a deadline for the request head
        access_log=False,  # the access log would print query strings, which may carry the token
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        timeout_graceful_shutdown=graceful_timeout,
        server_header=False,
        log_level="info",
    )

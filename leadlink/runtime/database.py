"""Which database leadlink works on: LEADLINK_DATABASE_URL, else the embedded server started on
demand; and `prepare`, what every command runs first (resolve, then migrate the raw schema)."""

from __future__ import annotations

from leadlink.runtime.embedded import EmbeddedServer, server_url
from loaders.database import ensure_database_exists, migrate
from loaders.settings import Settings


def embedded_server(settings: Settings) -> EmbeddedServer:
    return EmbeddedServer(settings.home_dir, settings.embedded_port)


def resolve_database_url(settings: Settings, start: bool = True) -> str:
    """The libpq URL of the database leadlink works on, starting the embedded server if needed."""
    if settings.database_url:
        return settings.database_url
    server = embedded_server(settings)
    status = server.start() if start else server.status()
    if not status.running or status.port is None:
        raise RuntimeError("the embedded PostgreSQL server is not running (leadlink db up)")
    ensure_database_exists(server_url(status.port, "postgres"), settings.embedded_database)
    return server_url(status.port, settings.embedded_database)


def prepare(settings: Settings) -> str:
    """Resolve the database and make sure the raw schema is current: what every load runs first."""
    url = resolve_database_url(settings)
    migrate(url, settings)
    return url


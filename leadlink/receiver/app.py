"""The receiver as an ASGI app (Starlette): endpoints, body limit, authentication, and the hand-off
to one short database transaction in a worker thread.

    GET  /webhooks/meta        subscription handshake (hub.mode, hub.verify_token, hub.challenge)
    POST /webhooks/meta        signed leadgen notifications -> deliveries + leadgen queue
    GET|POST /webhooks/knowlarity   token-protected call hooks -> knowlarity_calls
    GET  /healthz              200 when the database answers, else 503
    GET  /lookup?phone=...     the CRM's find_customer_with_leads_by_phone (bearer token; see lookup_endpoint)

Answers: 200 once stored (also for a redelivery, invalid JSON -> quarantine, a body without a
phone); 401/403 for bad credentials (nothing stored); 413 over the size limit; 503 when the
database cannot take the delivery, so the sender retries.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
import psycopg2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from leadlink.receiver import intake, intake_meta
from leadlink.receiver.lookup_endpoint import LookupEndpoint
from leadlink.receiver.pool import CONNECTION_ERRORS, ConnectionPool, PoolTimeout
from leadlink.receiver.signature import meta_signature_valid, token_valid
from leadlink.receiver.worker import BackgroundWorker, LeadFetcher, WorkerConfig
from loaders.settings import Settings, WebhookSettings

log = logging.getLogger("leadlink.webhooks")

MAX_BODY_BYTES = WebhookSettings.max_body_bytes
# a request whose body has not arrived whole by then is answered 408 and its connection closed
BODY_TIMEOUT_SECONDS = 10.0
TOKEN_HEADER = "x-leadlink-token"
SIGNATURE_HEADER = "x-hub-signature-256"


@dataclass(frozen=True)
class ReceiverConfig:
    meta_app_secret: str | None = field(default=None, repr=False)
    meta_verify_token: str | None = field(default=None, repr=False)
    knowlarity_token: str | None = field(default=None, repr=False)
    max_body_bytes: int = MAX_BODY_BYTES
    body_timeout: float = BODY_TIMEOUT_SECONDS
    pool_size: int = 8
    acquire_timeout: float = 2.0
    run_worker: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> ReceiverConfig:
        hooks = settings.webhooks
        return cls(
            meta_app_secret=settings.meta.app_secret,
            meta_verify_token=settings.meta.verify_token,
            knowlarity_token=settings.knowlarity.webhook_token,
            max_body_bytes=hooks.max_body_bytes,
            pool_size=hooks.pool_size,
            run_worker=hooks.run_worker,
        )

    def missing(self) -> list[str]:
        return [name for name, value in (("META_APP_SECRET", self.meta_app_secret),
                                         ("META_VERIFY_TOKEN", self.meta_verify_token),
                                         ("KNOWLARITY_WEBHOOK_TOKEN", self.knowlarity_token))
                if not value]


class BodyTooLarge(Exception):
    pass


class DatabaseUnavailable(Exception):
    pass


class BodyTimeout(Exception):
    pass


class StoreFailed(Exception):
    pass


async def read_body(request: Request, limit: int, timeout: float = BODY_TIMEOUT_SECONDS) -> bytes:
    """The raw body, refusing (before or while reading) anything over `limit` bytes, and a body
    that does not arrive whole within `timeout` seconds (a sender that stalls mid-body would
    otherwise hold a connection and a request slot forever)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    with anyio.move_on_after(timeout) as scope:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
    if scope.cancelled_caught:
        raise BodyTimeout
    return b"".join(chunks)


def _too_large(limit: int) -> Response:
    return PlainTextResponse(f"body over {limit} bytes", status_code=413,
                             headers={"Connection": "close"})


def _too_slow(timeout: float) -> Response:
    return PlainTextResponse(f"body not received within {timeout:g}s", status_code=408,
                             headers={"Connection": "close"})


def _failed() -> Response:
    return JSONResponse({"status": "error", "detail": "not stored; retry later"},
                        status_code=500)


def _unavailable() -> Response:
    return JSONResponse({"status": "unavailable", "detail": "database unavailable; retry later"},
                        status_code=503, headers={"Retry-After": "5"})


class Receiver:
    """State shared by the handlers of one app: settings, pool, worker."""

    def __init__(self, settings: Settings, url: str, config: ReceiverConfig,
                 fetch: LeadFetcher | None, worker_config: WorkerConfig) -> None:
        self.settings = settings
        self.url = url
        self.config = config
        self.pool = ConnectionPool(url, config.pool_size, acquire_timeout=config.acquire_timeout)
        self.limiter: anyio.CapacityLimiter | None = None
        self.worker = BackgroundWorker(settings, url, fetch, worker_config) \
            if config.run_worker else None

    def warm_up_sql(self) -> str:
        tables = ("webhook_deliveries", "knowlarity_calls", "meta_leadgen_queue", "load_batches",
                  "quarantine")
        schema = self.settings.raw_schema.replace('"', '""')
        return "; ".join(f'select * from "{schema}".{table} where false' for table in tables)

    def _in_transaction(self, job: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        for attempt in range(2):
            reused = False
            try:
                with self.pool.connection(fresh=attempt > 0) as (conn, reused):
                    return job(conn, self.settings, *args)
            except PoolTimeout as error:
                raise DatabaseUnavailable(str(error)) from None
            except CONNECTION_ERRORS as error:
                # A pooled connection broken by a database restart: one more go on a new one.
                if attempt == 0 and reused:
                    continue
                raise DatabaseUnavailable(type(error).__name__) from None
            except psycopg2.Error as error:
                # Never the exception itself: its DETAIL / CONTEXT lines quote payload values.
                log.error("a delivery could not be stored: %s", intake.describe_error(error))
                raise StoreFailed from None
        raise DatabaseUnavailable("unreachable")

    async def run(self, job: Callable[..., Any], *args: Any) -> Any:
        if self.limiter is None:
            self.limiter = anyio.CapacityLimiter(self.config.pool_size)
        return await anyio.to_thread.run_sync(self._in_transaction, job, args,
                                              limiter=self.limiter)

    # --- handlers -------------------------------------------------------------------------------
    async def meta_handshake(self, request: Request) -> Response:
        query = request.query_params
        if (query.get("hub.mode") == "subscribe"
                and token_valid(self.config.meta_verify_token, query.get("hub.verify_token"))
                and query.get("hub.challenge") is not None):
            return PlainTextResponse(query["hub.challenge"])
        log.info("meta handshake refused")
        return PlainTextResponse("forbidden", status_code=403)

    async def meta_notification(self, request: Request) -> Response:
        try:
            raw = await read_body(request, self.config.max_body_bytes, self.config.body_timeout)
        except BodyTooLarge:
            return _too_large(self.config.max_body_bytes)
        except BodyTimeout:
            return _too_slow(self.config.body_timeout)
        if not meta_signature_valid(self.config.meta_app_secret, raw,
                                    request.headers.get(SIGNATURE_HEADER)):
            log.info("meta notification refused: missing or wrong X-Hub-Signature-256")
            return PlainTextResponse("invalid signature", status_code=403)
        try:
            stored = await self.run(intake_meta.store_meta, raw, request.headers.get("content-type"))
        except DatabaseUnavailable as error:
            log.warning("meta notification answered 503: %s", error)
            return _unavailable()
        except StoreFailed:
            return _failed()
        if stored.queued and self.worker is not None:
            self.worker.wake()
        return JSONResponse({"status": "stored", "delivery_id": stored.delivery_id,
                             "new": stored.new, "outcome": stored.outcome,
                             "queued": len(stored.queued)})

    async def knowlarity_hook(self, request: Request) -> Response:
        given = request.query_params.get("token") or request.headers.get(TOKEN_HEADER)
        if not token_valid(self.config.knowlarity_token, given):
            log.info("knowlarity hook refused: missing or wrong token")
            return PlainTextResponse("unauthorized", status_code=401)
        content_type = request.headers.get("content-type")
        if request.method in ("GET", "HEAD"):
            params = {name: value for name, value in request.query_params.multi_items()
                      if name != "token"}
            raw = json.dumps(params, ensure_ascii=False, sort_keys=True).encode("utf-8")
            items = intake.knowlarity_query_items(params)
            content_type = "query-string"
        else:
            try:
                raw = await read_body(request, self.config.max_body_bytes,
                                      self.config.body_timeout)
            except BodyTooLarge:
                return _too_large(self.config.max_body_bytes)
            except BodyTimeout:
                return _too_slow(self.config.body_timeout)
            items = None
        try:
            stored = await self.run(_store_knowlarity, raw, items, request.method, content_type)
        except DatabaseUnavailable as error:
            log.warning("knowlarity hook answered 503: %s", error)
            return _unavailable()
        except StoreFailed:
            return _failed()
        return JSONResponse({"status": "stored", "delivery_id": stored.delivery_id,
                             "new": stored.new, "outcome": stored.outcome})

    async def healthz(self, request: Request) -> Response:
        try:
            await self.run(intake.database_answers)
        except (DatabaseUnavailable, StoreFailed):
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})


def _store_knowlarity(conn: Any, settings: Settings, raw: bytes, items: list | None,
                      method: str, content_type: str | None) -> intake.Stored:
    return intake.store_knowlarity(conn, settings, raw, items, method, content_type)


def create_app(settings: Settings, url: str, config: ReceiverConfig | None = None,
               fetch: LeadFetcher | None = None,
               worker_config: WorkerConfig | None = None) -> Starlette:
    config = config or ReceiverConfig.from_settings(settings)
    receiver = Receiver(settings, url, config,
                        fetch, worker_config or WorkerConfig.from_settings(settings))
    lookup = LookupEndpoint(settings, url, receiver.pool)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        missing = config.missing()
        if missing:
            log.warning("not set: %s; the matching endpoints refuse every delivery",
                        ", ".join(missing))
        opened = await anyio.to_thread.run_sync(receiver.pool.warm_up, receiver.warm_up_sql())
        if opened == 0:
            log.warning("the database does not answer yet; deliveries get 503 until it does")
        if receiver.worker is not None:
            receiver.worker.start()
        try:
            yield
        finally:
            if receiver.worker is not None:
                await receiver.worker.stop()
            receiver.pool.close()
            lookup.close()

    app = Starlette(
        routes=[
            Route("/webhooks/meta", receiver.meta_handshake, methods=["GET"]),
            Route("/webhooks/meta", receiver.meta_notification, methods=["POST"]),
            Route("/webhooks/knowlarity", receiver.knowlarity_hook, methods=["GET", "POST"]),
            Route("/healthz", receiver.healthz, methods=["GET"]),
            Route("/lookup", lookup.handle, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.receiver = receiver
    return app


SERVE_URL_ENV = "LEADLINK_SERVE_DATABASE_URL"


def create_app_from_environ() -> Starlette:
    """The factory each `leadlink serve` worker process calls (the parent resolved the URL)."""
    from loaders.logging_utils import configure_logging

    # the parent `leadlink serve` checked these settings already: a bad value cannot get here
    settings = Settings.from_environ()
    configure_logging(settings.log_format)
    # Database calls run in threads; with the default 5 ms GIL switch interval a thread whose
    # query has returned waits behind the busy event loop (the "convoy effect"), which is most of
    # a request's latency under load.
    sys.setswitchinterval(settings.webhooks.switch_interval)
    url = settings.webhooks.serve_database_url
    if not url:
        from leadlink.runtime.database import resolve_database_url

        url = resolve_database_url(settings)
    return create_app(settings, url)

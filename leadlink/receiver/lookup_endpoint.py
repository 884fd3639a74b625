"""`GET /lookup?phone=...`: the receptionist's search over HTTP, answered by the CRM database's
function leadlink.find_customer_with_leads_by_phone (the same JSON, byte for byte).

Behind `Authorization: Bearer $LEADLINK_LOOKUP_TOKEN` (constant-time compare): 401 without it or
with a wrong one; 404 when the token is unset (the endpoint is off). The query runs on the
receiver's pool when the CRM is leadlink's own database, else on a small pool of its own on
LEADLINK_CRM_DATABASE_URL. Phones are never logged.
"""

from __future__ import annotations

import logging
import re

import anyio
import anyio.to_thread
import psycopg2
import psycopg2.errors
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from leadlink.receiver.pool import CONNECTION_ERRORS, ConnectionPool, PoolTimeout
from leadlink.receiver.signature import token_valid
from loaders.settings import Settings

log = logging.getLogger("leadlink.lookup")

LOOKUP_SQL = "select leadlink.find_customer_with_leads_by_phone(%s, %s)::text"
CRM_POOL_SIZE = 2
MAX_PHONE_CHARS = 1000
REGION = re.compile(r"^[A-Za-z]{2}$")


class LookupEndpoint:
    def __init__(self, settings: Settings, url: str, receiver_pool: ConnectionPool) -> None:
        self.token = settings.lookup_token
        crm_url = settings.publish.crm_database_url
        self.own_pool = crm_url is not None and crm_url != url
        self.pool = (ConnectionPool(crm_url, CRM_POOL_SIZE, application_name="leadlink-lookup")
                     if self.own_pool and crm_url else receiver_pool)
        self.limiter = anyio.CapacityLimiter(self.pool.size)

    def close(self) -> None:
        if self.own_pool:
            self.pool.close()

    def _answer(self, phone: str, region: str) -> str:
        for attempt in range(2):
            reused = False
            try:
                with self.pool.connection(fresh=attempt > 0) as (conn, reused):
                    with conn.cursor() as cursor:
                        cursor.execute(LOOKUP_SQL, (phone, region))
                        answer = cursor.fetchone()[0]
                    conn.rollback()  # read only
                    return answer
            except CONNECTION_ERRORS:
                if attempt == 0 and reused:
                    continue  # a pooled connection broken by a restart: once more on a new one
                raise
        raise RuntimeError("unreachable")

    async def handle(self, request: Request) -> Response:
        if not self.token:
            return PlainTextResponse("not found", status_code=404)
        scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token_valid(self.token, given.strip()):
            log.info("lookup refused: missing or wrong bearer token")
            return PlainTextResponse("unauthorized", status_code=401,
                                     headers={"WWW-Authenticate": "Bearer"})
        phone = request.query_params.get("phone")
        region = request.query_params.get("region") or "IN"
        if phone is None:
            return JSONResponse({"error": "the query parameter phone is required"}, status_code=400)
        if not REGION.match(region):
            return JSONResponse({"error": "region must be a two-letter region code"}, status_code=400)
        phone = phone.replace("\x00", "")[:MAX_PHONE_CHARS]
        try:
            answer = await anyio.to_thread.run_sync(self._answer, phone, region.upper(),
                                                    limiter=self.limiter)
        except (PoolTimeout, *CONNECTION_ERRORS) as error:
            log.warning("lookup answered 503: %s", type(error).__name__)
            return JSONResponse({"error": "database unavailable; retry later"}, status_code=503,
                                headers={"Retry-After": "5"})
        except (psycopg2.errors.UndefinedFunction, psycopg2.errors.InvalidSchemaName,
                psycopg2.errors.InsufficientPrivilege) as error:
            log.error("lookup answered 503: %s (run `leadlink crm install`)", type(error).__name__)
            return JSONResponse({"error": "the CRM lookup function is not installed or not granted"
                                          " (leadlink crm install)"}, status_code=503)
        except psycopg2.Error as error:
            # never the exception text: its CONTEXT line may quote the phone
            log.error("lookup failed: %s %s", type(error).__name__, error.pgcode)
            return JSONResponse({"error": "lookup failed"}, status_code=500)
        return Response(answer, media_type="application/json")

"""Graph API client for Meta Lead Ads: forms of a page, leads of a form, one lead.

The page access token travels in the `Authorization: Bearer` header, never in a URL we build.
Graph's `paging.next` links embed the token as `access_token=`: we drop that parameter before
following them (the header still authenticates) and only follow links to the configured host.

Interface used elsewhere (the webhook worker): `GraphClient.from_settings(settings)` then
`get_lead(lead_id) -> dict`, raising `loaders.http.AuthError` (fix META_PAGE_ACCESS_TOKEN),
`FatalHttpError` (e.g. a deleted lead) or `RetriesExhausted` (try again later).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from loaders.http import (
    Auth,
    Decision,
    Fatal,
    FatalHttpError,
    HttpClient,
    Retry,
    RetryPolicy,
    business_use_case_wait,
    redact_url,
    retry_after_seconds,
    strip_query_params,
)
from loaders.payload_checks import load_json
from loaders.settings import MetaSettings, Settings

log = logging.getLogger("leadlink.meta")

DEFAULT_GRAPH_URL = MetaSettings.graph_url
DEFAULT_API_VERSION = MetaSettings.api_version
LEAD_FIELDS = (
    "id", "created_time", "field_data", "ad_id", "ad_name", "adset_id", "adset_name",
    "campaign_id", "campaign_name", "form_id", "is_organic", "platform",
)
FORM_FIELDS = ("id", "name", "status", "locale")
KNOWN_FORM_STATUSES = frozenset({"ACTIVE", "ARCHIVED", "DELETED", "DRAFT", "PAUSED"})
PAGE_SIZE = 100

# Graph error codes (https://developers.facebook.com/docs/graph-api/overview/rate-limiting and
# /guides/error-handling): transient / throttling ones are retried, token ones fail fast.
RETRY_CODES = frozenset({1, 2, 4, 17, 32, 341, 368, 613}) | frozenset(range(80000, 80015))
TOKEN_CODES = frozenset({190, 102})
TOKEN_ENV = "META_PAGE_ACCESS_TOKEN"
AUTH_HINT = f"check {TOKEN_ENV} (expired, revoked or lacking leads_retrieval?)"


class GraphPageError(Exception):
    """A 200 answer that is not a Graph page (invalid JSON, no `data` list)."""


@dataclass(frozen=True)
class GraphConfig:
    base_url: str = DEFAULT_GRAPH_URL
    api_version: str = DEFAULT_API_VERSION
    page_id: str | None = None
    access_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> GraphConfig:
        meta = settings.meta
        return cls(base_url=meta.graph_url, api_version=meta.api_version, page_id=meta.page_id,
                   access_token=meta.page_access_token)


def graph_error(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def classify_graph(response: httpx.Response) -> Decision | None:
    """Meta answers most errors with HTTP 400 and a code: branch on the code, not the status."""
    if response.status_code < 400:
        return None
    error = graph_error(response)
    code = error.get("code")
    try:
        code = int(code) if code is not None else None
    except (TypeError, ValueError):
        code = None
    server_wait = max(retry_after_seconds(response) or 0.0, business_use_case_wait(response) or 0.0)
    if code in TOKEN_CODES:
        return Auth(f"Graph error {code} ({error.get('type', 'OAuthException')})")
    if code in RETRY_CODES:
        return Retry(f"Graph throttling/transient error {code} (HTTP {response.status_code})",
                     server_wait)
    if response.status_code in (401, 403):
        return Auth(f"HTTP {response.status_code}" + (f", Graph error {code}" if code else ""))
    if response.status_code == 429 or response.status_code >= 500:
        return Retry(f"HTTP {response.status_code}", server_wait)
    return Fatal(f"HTTP {response.status_code}" + (f", Graph error {code}: "
                                                    f"{error.get('message', '')}" if code else ""))


def unix_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


@dataclass(frozen=True)
class LeadPage:
    """One page of a form's leads: the parsed document, or the problem and the original text."""

    document: Any = None
    problem: str | None = None
    text: str = ""


class GraphClient:
    def __init__(self, config: GraphConfig, policy: RetryPolicy | None = None, *,
                 sleep: Callable[[float], None] | None = None,
                 random: Callable[[], float] | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        extra: dict[str, Any] = {}
        if sleep is not None:
            extra["sleep"] = sleep
        if random is not None:
            extra["random"] = random
        headers = {"Accept": "application/json", "User-Agent": "leadlink"}
        if config.access_token:
            headers["Authorization"] = f"Bearer {config.access_token}"
        self.http = HttpClient(
            headers=headers, policy=policy or RetryPolicy(), classify=classify_graph,
            auth_hint=AUTH_HINT, secrets=(config.access_token,), transport=transport,
            name="meta graph", **extra,
        )
        self._host = urlsplit(config.base_url)[:2]

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> GraphClient:
        return cls(GraphConfig.from_settings(settings), RetryPolicy.from_settings(settings.http),
                   **kwargs)

    def __repr__(self) -> str:
        return f"GraphClient({self.config.base_url}/{self.config.api_version}, page {self.config.page_id})"

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing ---------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return f"{self.config.base_url}/{self.config.api_version}/{path.lstrip('/')}"

    def _next_url(self, document: Any) -> str | None:
        paging = document.get("paging") if isinstance(document, dict) else None
        link = paging.get("next") if isinstance(paging, dict) else None
        if not isinstance(link, str) or not link:
            return None
        if urlsplit(link)[:2] != self._host:
            raise FatalHttpError(f"meta graph: paging.next points at another host "
                                 f"({redact_url(link)}); refusing to send the token there")
        return strip_query_params(link, ("access_token",))

    def _pages(self, url: str, params: Mapping[str, Any] | None) -> Iterator[LeadPage]:
        """Follow `paging.next` to the end; a page that is not a Graph page ends the walk."""
        next_url: str | None = url
        next_params = params
        while next_url:
            response = self.http.get(next_url, params=next_params)
            next_params = None  # paging.next carries every parameter
            text = response.text
            try:
                document = load_json(text)  # one bad value costs its lead, not the page
            except ValueError as error:
                yield LeadPage(None, f"Graph page is not valid JSON ({error})", text)
                return
            if not isinstance(document, dict) or not isinstance(document.get("data"), list):
                yield LeadPage(None, "Graph page without a `data` list", text)
                return
            yield LeadPage(document, None, text)
            next_url = self._next_url(document)

    # --- the interface ----------------------------------------------------------------------
    def list_forms(self, page_id: str | None = None) -> list[dict[str, Any]]:
        """Every lead form of the page, whatever its status (archived forms still hold leads)."""
        page_id = page_id or self.config.page_id
        if not page_id:
            raise ValueError("META_PAGE_ID is not set")
        forms: list[dict[str, Any]] = []
        for page in self._pages(self._url(f"{page_id}/leadgen_forms"),
                                {"fields": ",".join(FORM_FIELDS), "limit": PAGE_SIZE}):
            if page.problem:
                raise GraphPageError(f"leadgen_forms of page {page_id}: {page.problem}")
            for form in page.document["data"]:
                if isinstance(form, dict) and form.get("id") is not None:
                    forms.append(form)
                    status = str(form.get("status", ""))
                    if status.upper() not in KNOWN_FORM_STATUSES:
                        log.warning("form %s has an unknown status %r: reading its leads anyway",
                                    form.get("id"), status)
        return forms

    def lead_params(self, since: datetime | None, until: datetime | None) -> dict[str, Any]:
        filtering = []
        if since is not None:
            filtering.append({"field": "time_created", "operator": "GREATER_THAN",
                              "value": unix_seconds(since) - 1})
        if until is not None:
            filtering.append({"field": "time_created", "operator": "LESS_THAN",
                              "value": unix_seconds(until) + 1})
        params: dict[str, Any] = {"fields": ",".join(LEAD_FIELDS), "limit": PAGE_SIZE}
        if filtering:
            params["filtering"] = json.dumps(filtering, separators=(",", ":"))
        return params

    def iter_lead_pages(self, form_id: str, since: datetime | None = None,
                        until: datetime | None = None) -> Iterator[LeadPage]:
        """The form's leads created in [since, until], page by page, following paging.next."""
        yield from self._pages(self._url(f"{form_id}/leads"), self.lead_params(since, until))

    def iter_leads(self, form_id: str, since: datetime | None = None,
                   until: datetime | None = None) -> Iterator[dict[str, Any]]:
        """The form's lead objects, as Graph sends them. Raises GraphPageError on a bad page."""
        for page in self.iter_lead_pages(form_id, since, until):
            if page.problem:
                raise GraphPageError(f"leads of form {form_id}: {page.problem}")
            yield from page.document["data"]

    def get_lead(self, lead_id: str) -> dict[str, Any]:
        """One lead by id (the webhook's leadgen_id) with the same fields as the pull."""
        # a path segment, quoted: an id like ../../me/accounts must never reach another endpoint
        response = self.http.get(self._url(quote(str(lead_id), safe="")),
                                 params={"fields": ",".join(LEAD_FIELDS)})
        try:
            lead = load_json(response.text)
        except ValueError as error:
            raise GraphPageError(f"lead {lead_id}: answer is not valid JSON ({error})") from None
        if not isinstance(lead, dict):
            raise GraphPageError(f"lead {lead_id}: answer is not a JSON object")
        return lead


__all__ = [
    "AUTH_HINT", "GraphClient", "GraphConfig", "GraphPageError", "LEAD_FIELDS", "LeadPage",
    "RETRY_CODES", "TOKEN_ENV", "classify_graph",
]

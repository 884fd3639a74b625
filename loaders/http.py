"""The one retrying HTTP layer of the project (the API loaders and the webhook worker use it).

- Timeouts on every request (connect / read / write / pool).
- Retries on timeouts, connection errors (refused, reset, dropped mid-answer), 429 and 5xx, and on
  whatever the caller's classifier calls retriable (Meta throttles with HTTP 400 + an error code).
- Exponential backoff with full jitter and a cap; a server's advertised wait (`Retry-After`, or
  Meta's `estimated_time_to_regain_access`) is honoured as a floor, itself capped.
- Auth errors fail at once with a message naming the env var to fix.
- Secrets never appear in logs, exceptions or repr: URLs are logged without their secret query
  parameters (`access_token` ...), and every message is scrubbed of the secret values we know;
  an error answer quoted in a message has its phone-like numbers masked.
  Exceptions are raised `from None` so a traceback carries no library message with a raw URL.
- `sleep`, `clock` and `random` are injectable so tests never wait for real.

Why httpx (not requests): timeouts are on by default and split by phase, there are no hidden
retries or redirects, its exceptions do not embed the request URL (where Graph's paging links
carry the token), and it is already the project's test client.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random as random_module
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from loaders.database import redact_url
from loaders.logging_utils import mask_phones
from loaders.settings import HttpSettings

log = logging.getLogger("leadlink.http")

RETRIABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


# --- errors -----------------------------------------------------------------------------------
class HttpError(Exception):
    """Base of everything this layer raises. Messages are already redacted."""

    def __init__(self, message: str, status: int | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.url = url  # redacted

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class AuthError(HttpError):
    """Credentials refused: retrying cannot help; the message names the env var(s) to fix."""


class FatalHttpError(HttpError):
    """A 4xx (or an error the classifier calls final) that retrying cannot fix."""


class RetriesExhausted(HttpError):
    """Every attempt failed with a retriable error."""


# --- decisions --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Retry:
    """Retry this response; wait at least `wait_at_least` seconds (server-advertised)."""

    reason: str
    wait_at_least: float = 0.0


@dataclass(frozen=True)
class Auth:
    reason: str


@dataclass(frozen=True)
class Fatal:
    reason: str


Decision = Retry | Auth | Fatal
Classifier = Callable[[httpx.Response], "Decision | None"]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    backoff_base: float = 1.0       # seconds; attempt n waits uniform(0, min(cap, base * 2**n))
    backoff_cap: float = 60.0
    max_server_wait: float = 900.0  # cap on a Retry-After / regain-access wait we honour
    timeout: float = 30.0           # read / write / pool timeout, seconds
    connect_timeout: float = 10.0

    @classmethod
    def from_settings(cls, http: HttpSettings) -> RetryPolicy:
        return cls(max_attempts=http.max_attempts, backoff_base=http.backoff_base,
                   backoff_cap=http.backoff_cap, max_server_wait=http.max_server_wait,
                   timeout=http.timeout, connect_timeout=http.connect_timeout)


def backoff_delay(attempt: int, base: float, cap: float, random: Callable[[], float] = random_module.random,
                  *, least_share: float = 0.0) -> float:
    """The project's one backoff formula: exponential, capped, jittered. Attempt n (from 0) waits
    uniformly between `least_share` and all of min(cap, base * 2**n): full jitter with 0 (the HTTP
    retries, many clients spreading out), half jitter with 0.5 (the leadgen queue, whose rows must
    not fall due again at once)."""
    ceiling = min(cap, base * (2 ** max(0, attempt)))
    return ceiling * (least_share + (1.0 - least_share) * random())


# --- redaction (redact_url lives with the connections: one for URLs of every kind) --------
def strip_query_params(url: str, names: Iterable[str]) -> str:
    """The URL without the named query parameters (to follow Graph's paging.next without the
    token it embeds; we send ours in a header instead)."""
    drop = {name.lower() for name in names}
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in drop]
    return urlunsplit(parts._replace(query=urlencode(query)))


class Scrubber:
    """Replaces known secret values anywhere in a text."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def __repr__(self) -> str:
        return f"Scrubber({len(self._secrets)} secrets)"


# --- server-advertised waits -------------------------------------------------------------------
def retry_after_seconds(response: httpx.Response, now: Callable[[], float] = time.time) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP date), None when absent or unreadable."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now())


def business_use_case_wait(response: httpx.Response) -> float | None:
    """Meta's `X-Business-Use-Case-Usage`: the largest estimated_time_to_regain_access, in seconds
    (Meta gives minutes). None when the header is absent or says 0."""
    value = response.headers.get("x-business-use-case-usage")
    if not value:
        return None
    try:
        usage = json.loads(value)
    except ValueError:
        return None
    minutes = 0.0
    if isinstance(usage, dict):
        for entries in usage.values():
            for entry in entries if isinstance(entries, list) else [entries]:
                if isinstance(entry, dict):
                    try:
                        minutes = max(minutes, float(entry.get("estimated_time_to_regain_access") or 0))
                    except (TypeError, ValueError):
                        continue
    return minutes * 60.0 if minutes > 0 else None


def default_classifier(response: httpx.Response) -> Decision | None:
    """429 and 5xx retry; other 4xx are final; 2xx/3xx are fine (None)."""
    status = response.status_code
    if status in RETRIABLE_STATUS or status >= 500:
        return Retry(f"HTTP {status}", retry_after_seconds(response) or 0.0)
    if status in (401, 403):
        return Auth(f"HTTP {status}")
    if status >= 400:
        return Fatal(f"HTTP {status}")
    return None


# --- the client -------------------------------------------------------------------------------
@dataclass
class HttpClient:
    """A retrying JSON-over-HTTP client.

    `classify` looks at a response first; when it returns None the default rules apply.
    `auth_hint` completes auth failure messages ("check KNOWLARITY_API_KEY ...").
    """

    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    classify: Classifier | None = None
    auth_hint: str = ""
    secrets: Iterable[str | None] = field(default_factory=tuple, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    random: Callable[[], float] = field(default=random_module.random, repr=False)
    transport: httpx.BaseTransport | None = field(default=None, repr=False)
    name: str = "http"

    def __post_init__(self) -> None:
        self._scrub = Scrubber(self.secrets)
        self._client = httpx.Client(
            headers=dict(self.headers),
            timeout=httpx.Timeout(self.policy.timeout, connect=self.policy.connect_timeout),
            transport=self.transport,
            follow_redirects=False,
            trust_env=True,
        )
        self.requests_made = 0
        self.retries = 0

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _safe(self, text: str) -> str:
        return self._scrub(text)

    def backoff(self, attempt: int, floor: float = 0.0) -> float:
        """Full jitter: uniform(0, min(cap, base * 2**attempt)), never below the server's floor
        (itself capped by max_server_wait)."""
        jittered = backoff_delay(attempt, self.policy.backoff_base, self.policy.backoff_cap, self.random)
        return max(jittered, min(floor, self.policy.max_server_wait))

    def get(self, url: str, params: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None) -> httpx.Response:
        """GET with retries. Returns the successful response; raises an HttpError subclass."""
        full = httpx.URL(url, params=params) if params else httpx.URL(url)
        shown = self._safe(redact_url(str(full)))
        last_problem = "no attempt made"
        for attempt in range(self.policy.max_attempts):
            self.requests_made += 1
            floor = 0.0
            try:
                response = self._client.get(url, params=params, headers=headers)
                response.read()
            except httpx.TimeoutException as error:
                last_problem = f"timeout ({type(error).__name__})"
            except httpx.TransportError as error:
                last_problem = f"connection error ({type(error).__name__}: {self._safe(str(error))})"
            else:
                decision = (self.classify(response) if self.classify else None) \
                    or default_classifier(response)
                if decision is None:
                    return response
                if isinstance(decision, Auth):
                    raise AuthError(
                        f"{self.name}: authentication refused ({decision.reason})"
                        + (f"; {self.auth_hint}" if self.auth_hint else "") + f" (GET {shown})",
                        response.status_code, shown,
                    ) from None
                if isinstance(decision, Fatal):
                    raise FatalHttpError(
                        f"{self.name}: {decision.reason} for {shown}: "
                        f"{mask_phones(self._safe(response.text[:300]))}",
                        response.status_code, shown,
                    ) from None
                last_problem = decision.reason
                floor = decision.wait_at_least
            if attempt + 1 >= self.policy.max_attempts:
                break
            delay = self.backoff(attempt, floor)
            self.retries += 1
            log.warning("%s: %s on %s; retry %d/%d in %.1fs", self.name, last_problem, shown,
                        attempt + 1, self.policy.max_attempts - 1, delay)
            self.sleep(delay)
        raise RetriesExhausted(
            f"{self.name}: gave up after {self.policy.max_attempts} attempts on {shown}: "
            f"{last_problem}", None, shown,
        ) from None


__all__ = [
    "Auth", "AuthError", "Classifier", "Decision", "Fatal", "FatalHttpError", "HttpClient",
    "HttpError", "Retry", "RetriesExhausted", "RetryPolicy", "Scrubber",
    "backoff_delay", "business_use_case_wait", "default_classifier", "redact_url", "retry_after_seconds",
    "strip_query_params",
]

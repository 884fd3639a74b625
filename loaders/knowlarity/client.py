"""Knowlarity call-log API: one page at a time, with the project's retrying HTTP layer.

`GET {KNOWLARITY_BASE_URL}/{KNOWLARITY_CHANNEL}/v1/account/calllog` with `x-api-key`,
`authorization` and `channel` headers, `start_time` / `end_time` in IST with an explicit `+05:30`,
`limit` / `offset`. The list is live and newest first; the loader handles records shifting
between pages (see loaders/knowlarity/loader.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from loaders.http import HttpClient, RetryPolicy
from loaders.payload_checks import load_json
from loaders.settings import KnowlaritySettings, Settings

DEFAULT_BASE_URL = KnowlaritySettings.base_url
DEFAULT_CHANNEL = KnowlaritySettings.channel
DEFAULT_PAGE_SIZE = KnowlaritySettings.page_size
IST = timezone(timedelta(hours=5, minutes=30))
AUTH_HINT = "check KNOWLARITY_API_KEY (x-api-key) and KNOWLARITY_AUTH_TOKEN (authorization)"


def ist_text(moment: datetime) -> str:
    """`YYYY-MM-DD HH:MM:SS+05:30`, as the API wants it."""
    return moment.astimezone(IST).strftime("%Y-%m-%d %H:%M:%S+05:30")


@dataclass(frozen=True)
class KnowlarityConfig:
    base_url: str = DEFAULT_BASE_URL
    channel: str = DEFAULT_CHANNEL
    api_key: str | None = field(default=None, repr=False)
    auth_token: str | None = field(default=None, repr=False)
    page_size: int = DEFAULT_PAGE_SIZE

    @classmethod
    def from_settings(cls, settings: Settings) -> KnowlarityConfig:
        source = settings.knowlarity
        return cls(base_url=source.base_url, channel=source.channel, api_key=source.api_key,
                   auth_token=source.auth_token, page_size=source.page_size)


@dataclass(frozen=True)
class CallPage:
    """One answer: the parsed page, or the problem and the original text."""

    offset: int
    document: Any = None
    problem: str | None = None
    text: str = ""

    @property
    def objects(self) -> list[Any]:
        return self.document["objects"] if self.document is not None else []

    @property
    def total_count(self) -> int | None:
        meta = self.document.get("meta") if self.document is not None else None
        value = meta.get("total_count") if isinstance(meta, dict) else None
        try:
            return int(value) if value is not None else None
        except (TypeError, ValueError):
            return None


class KnowlarityClient:
    def __init__(self, config: KnowlarityConfig, policy: RetryPolicy | None = None, *,
                 sleep: Callable[[float], None] | None = None,
                 random: Callable[[], float] | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        extra: dict[str, Any] = {}
        if sleep is not None:
            extra["sleep"] = sleep
        if random is not None:
            extra["random"] = random
        headers = {"Accept": "application/json", "User-Agent": "leadlink",
                   "channel": config.channel}
        if config.api_key:
            headers["x-api-key"] = config.api_key
        if config.auth_token:
            headers["authorization"] = config.auth_token
        self.http = HttpClient(headers=headers, policy=policy or RetryPolicy(),
                               auth_hint=AUTH_HINT, secrets=(config.api_key, config.auth_token),
                               transport=transport, name="knowlarity", **extra)
        self.url = f"{config.base_url}/{config.channel}/v1/account/calllog"

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> KnowlarityClient:
        return cls(KnowlarityConfig.from_settings(settings), RetryPolicy.from_settings(settings.http),
                   **kwargs)

    def __repr__(self) -> str:
        return f"KnowlarityClient({self.url})"

    def close(self) -> None:
        self.http.close()

    def get_page(self, start: datetime, end: datetime, offset: int,
                 limit: int | None = None) -> CallPage:
        response = self.http.get(self.url, params={
            "start_time": ist_text(start), "end_time": ist_text(end),
            "limit": limit or self.config.page_size, "offset": offset,
        })
        text = response.text
        try:
            document = load_json(text)  # one bad value costs its call, not the page
        except ValueError as error:
            return CallPage(offset, None, f"call-log page is not valid JSON ({error})", text)
        if not isinstance(document, dict) or not isinstance(document.get("objects"), list):
            return CallPage(offset, None, "call-log page without an `objects` list", text)
        return CallPage(offset, document, None, text)

"""A fake Knowlarity call-log API: a live, newest-first list paged by limit/offset."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fakes.base import Answer, FakeServer

API_KEY = "test-api-key-0001"
AUTH_TOKEN = "test-sr-token-0002"


def call_time(call: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(call["start_time"])


class FakeKnowlarity(FakeServer):
    def __init__(self, calls: list[dict[str, Any]] | None = None, channel: str = "Basic",
                 api_key: str = API_KEY, auth_token: str = AUTH_TOKEN) -> None:
        super().__init__()
        self.calls: list[dict[str, Any]] = list(calls or [])
        self.channel = channel
        self.api_key = api_key
        self.auth_token = auth_token
        # Called with (offset) before a page is served: lets a test insert calls mid-paging.
        self.before_page: Callable[[int], None] | None = None

    def env(self) -> dict[str, str]:
        return {"KNOWLARITY_BASE_URL": self.url, "KNOWLARITY_CHANNEL": self.channel,
                "KNOWLARITY_API_KEY": self.api_key, "KNOWLARITY_AUTH_TOKEN": self.auth_token}

    def add_calls(self, calls: list[dict[str, Any]]) -> None:
        with self.lock:
            self.calls.extend(calls)

    def page_key(self, path: str, params: dict[str, str]) -> Any:
        return (params.get("start_time"), params.get("end_time"), params.get("offset"))

    def answer(self, path: str, params: dict[str, str], headers: dict[str, str]) -> Answer:
        if path != f"/{self.channel}/v1/account/calllog":
            return Answer(404, {"message": "Not Found"})
        if headers.get("x-api-key") != self.api_key or headers.get("authorization") != self.auth_token:
            return Answer(403, {"message": "Forbidden"})
        try:
            start = datetime.fromisoformat(params["start_time"])
            end = datetime.fromisoformat(params["end_time"])
            limit = int(params.get("limit", 100))
            offset = int(params.get("offset", 0))
        except (KeyError, ValueError):
            return Answer(400, {"error": {"message": "bad start_time/end_time"}})
        if self.before_page:
            self.before_page(offset)
        with self.lock:
            selected = [call for call in self.calls if start <= call_time(call) <= end]
        selected.sort(key=call_time, reverse=True)  # newest first
        page = selected[offset:offset + limit]
        return Answer(200, {
            "meta": {"limit": limit, "next": "", "offset": offset, "previous": "",
                     "total_count": len(selected)},
            "objects": page,
        })

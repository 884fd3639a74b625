"""A fake Graph API for Meta Lead Ads: a page's leadgen_forms, each form's leads (filtering on
time_created, cursor paging with `paging.next` links that embed the token, as Graph does), and
one lead by id (`GET /{version}/{lead_id}`, what the webhook worker fetches).

Extra faults: Graph error codes as strings ("613", "80005", "4", "17", "32", "190", "100"): HTTP
400 with {"error": {"code": N, ...}}; "190" is an expired token.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fakes.base import Answer, FakeServer

TOKEN = "EAAGtestpagetoken0123456789"
PAGE_ID = "100200300400500"
VERSION = "v20.0"


def lead_time(lead: dict[str, Any]) -> int:
    return int(datetime.strptime(lead["created_time"], "%Y-%m-%dT%H:%M:%S%z").timestamp())


def graph_error(code: int, message: str, kind: str = "OAuthException",
                subcode: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code,
                             "fbtrace_id": "AbCdEf123"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


class FakeGraph(FakeServer):
    def __init__(self, forms: list[dict[str, Any]] | None = None,
                 leads: dict[str, list[dict[str, Any]]] | None = None, token: str = TOKEN,
                 page_id: str = PAGE_ID, version: str = VERSION, page_size: int | None = None) -> None:
        super().__init__()
        self.forms = list(forms or [])
        self.leads: dict[str, list[dict[str, Any]]] = {k: list(v) for k, v in (leads or {}).items()}
        self.token = token
        self.page_id = page_id
        self.version = version
        self.page_size = page_size  # overrides the client's `limit` to force many pages
        self.business_use_case_minutes: float | None = None

    def env(self) -> dict[str, str]:
        return {"META_GRAPH_URL": self.url, "META_API_VERSION": self.version,
                "META_PAGE_ID": self.page_id, "META_PAGE_ACCESS_TOKEN": self.token}

    def add_lead(self, form_id: str, lead: dict[str, Any]) -> None:
        with self.lock:
            self.leads.setdefault(form_id, []).append(lead)

    def token_in_query(self) -> int:
        """How many requests carried the token in their URL (ours should be 0)."""
        return sum(1 for request in self.requests if self.token in request["query"])

    def page_key(self, path: str, params: dict[str, str]) -> Any:
        return (path, params.get("after"))

    def fault_answer(self, fault: str) -> Answer | None:
        if fault.isdigit() and int(fault) not in (401, 403, 429, 500, 502, 503):
            code = int(fault)
            headers = {}
            if self.business_use_case_minutes is not None:
                headers["X-Business-Use-Case-Usage"] = json.dumps({self.page_id: [{
                    "type": "leadgen", "call_count": 100, "total_cputime": 10,
                    "total_time": 10,
                    "estimated_time_to_regain_access": self.business_use_case_minutes}]})
            if code == 190:
                return Answer(400, graph_error(190, "Error validating access token: Session has "
                                               "expired", subcode=463))
            return Answer(400, graph_error(code, "(#%d) Application request limit reached" % code),
                          headers)
        return super().fault_answer(fault)

    def _authorised(self, params: dict[str, str], headers: dict[str, str]) -> bool:
        bearer = headers.get("authorization", "")
        return bearer == f"Bearer {self.token}" or params.get("access_token") == self.token

    def _page(self, path: str, rows: list[dict[str, Any]], params: dict[str, str]) -> Answer:
        limit = self.page_size or int(params.get("limit", 25))
        start = int(params.get("after", "0") or 0)
        chunk = rows[start:start + limit]
        paging: dict[str, Any] = {"cursors": {"before": str(start), "after": str(start + len(chunk))}}
        if start + limit < len(rows):
            query = {key: value for key, value in params.items() if key != "after"}
            query["access_token"] = self.token  # Graph embeds the token in paging links
            query["after"] = str(start + len(chunk))
            paging["next"] = f"{self.url}{path}?{urlencode(query)}"
        return Answer(200, {"data": chunk, "paging": paging})

    def answer(self, path: str, params: dict[str, str], headers: dict[str, str]) -> Answer:
        if not self._authorised(params, headers):
            return Answer(400, graph_error(190, "Invalid OAuth access token."))
        parts = path.strip("/").split("/")
        if not parts or parts[0] != self.version:
            return Answer(400, graph_error(2635, "unsupported version", "GraphMethodException"))
        parts = parts[1:]
        if parts == [self.page_id, "leadgen_forms"]:
            return self._page(path, self.forms, params)
        if len(parts) == 2 and parts[1] == "leads":
            with self.lock:
                rows = list(self.leads.get(parts[0], []))
            if parts[0] not in self.leads and parts[0] not in {f["id"] for f in self.forms}:
                return Answer(400, graph_error(100, "Unsupported get request", "GraphMethodException",
                                               33))
            for rule in json.loads(params.get("filtering", "[]")):
                if rule["field"] != "time_created":
                    continue
                value = int(rule["value"])
                if rule["operator"] == "GREATER_THAN":
                    rows = [lead for lead in rows if lead_time(lead) > value]
                elif rule["operator"] == "LESS_THAN":
                    rows = [lead for lead in rows if lead_time(lead) < value]
            rows.sort(key=lead_time, reverse=True)
            return self._page(path, rows, params)
        if len(parts) == 1:
            with self.lock:
                for rows in self.leads.values():
                    for lead in rows:
                        if lead["id"] == parts[0]:
                            return Answer(200, lead)
            return Answer(400, graph_error(100, "Unsupported get request", "GraphMethodException",
                                           33))
        return Answer(404, graph_error(803, "unknown path", "OAuthException"))

"""A tiny threaded HTTP server on 127.0.0.1 with scripted faults, shared by the fake APIs.

Faults (strings): "429" (with Retry-After), "500", "503", "401", "403", "drop" (close the
connection without an answer), "timeout" (answer after `slow_seconds`, later than the client's
timeout), "malformed" (200 with a body that is not the page), plus whatever a subclass adds
(Graph error codes such as "613", "80005", "4", "190").

Two ways to script them:
- `server.script.extend([...])`: the next requests get these faults, one each, in order;
- `server.fail_first_of_each_page = [...]`: the FIRST request for every distinct page (a subclass
  decides what a page is) gets the next fault of this list, cycling; retries of it succeed.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Answer:
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None,
                 raw: bytes | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.raw = raw


DROP = Answer(-1)


class FakeServer:
    slow_seconds = 0.6

    def __init__(self) -> None:
        self.script: list[str | None] = []
        self.fail_first_of_each_page: list[str] = []
        self._fault_cycle: itertools.cycle | None = None
        self._pages_seen: set[Any] = set()
        self.requests: list[dict[str, Any]] = []
        self.retry_after = "2"
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                fake._handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- faults -------------------------------------------------------------------------------
    def page_key(self, path: str, params: dict[str, str]) -> Any:
        return (path, tuple(sorted(params.items())))

    def _next_fault(self, path: str, params: dict[str, str]) -> str | None:
        with self.lock:
            if self.script:
                return self.script.pop(0)
            if self.fail_first_of_each_page:
                key = self.page_key(path, params)
                if key not in self._pages_seen:
                    self._pages_seen.add(key)
                    if self._fault_cycle is None:
                        self._fault_cycle = itertools.cycle(list(self.fail_first_of_each_page))
                    return next(self._fault_cycle)
        return None

    def fault_answer(self, fault: str) -> Answer | None:
        if fault == "429":
            return Answer(429, {"message": "Too Many Requests"}, {"Retry-After": self.retry_after})
        if fault in ("500", "502", "503"):
            return Answer(int(fault), {"message": "server error"})
        if fault == "401":
            return Answer(401, {"message": "Unauthorized"})
        if fault == "403":
            return Answer(403, {"message": "Forbidden"})
        if fault == "drop":
            return DROP
        if fault == "malformed":
            return Answer(200, raw=b"<html>upstream proxy error</html>")
        return None

    # --- request handling -----------------------------------------------------------------------
    def answer(self, path: str, params: dict[str, str], headers: dict[str, str]) -> Answer:
        raise NotImplementedError

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        params = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        headers = {key.lower(): value for key, value in handler.headers.items()}
        with self.lock:
            self.requests.append({"path": parts.path, "params": params, "headers": headers,
                                  "query": parts.query})
        fault = self._next_fault(parts.path, params)
        answer: Answer | None = None
        if fault == "timeout":
            time.sleep(self.slow_seconds)
        elif fault:
            answer = self.fault_answer(fault)
        if answer is None:
            answer = self.answer(parts.path, params, headers)
        if answer is DROP:
            handler.close_connection = True
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        body = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
        try:
            handler.send_response(answer.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            for key, value in answer.headers.items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

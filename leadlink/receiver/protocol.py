"""uvicorn's httptools protocol with a deadline for the request head.

uvicorn closes idle keep-alive connections (`timeout_keep_alive`) but waits forever for a request
whose headers never end, and never times out a new connection that sends nothing: a few hundred
such sockets (a slowloris) would hold the server. This protocol closes a connection whose request
line and headers have not all arrived `header_timeout` seconds after the connection opened (or
after the request's first byte, on a kept-alive connection). The body has its own deadline in the
app (`read_body`), which answers 408 and closes the connection.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT_SECONDS = 10.0


class HeaderDeadlineProtocol(HttpToolsProtocol):
    header_timeout: float = HEADER_TIMEOUT_SECONDS
    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.header_timeout,
                                                         self._header_deadline_passed)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _header_deadline_passed(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.logger.info("closing a connection whose request head did not arrive within %gs",
                             self.header_timeout)
            self.transport.close()

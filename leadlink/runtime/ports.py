"""Local TCP ports: the one free-port helper (the embedded server, the tests' fakes, benchmarks)."""

from __future__ import annotations

import socket

LOCALHOST = "127.0.0.1"


def port_is_free(port: int, host: str = LOCALHOST) -> bool:
    """True when nothing listens on host:port (a bind succeeds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = LOCALHOST) -> int:
    """A port nothing listens on right now (the kernel's choice). Another process may take it
    before the caller binds it: callers that start servers retry or tolerate that."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])

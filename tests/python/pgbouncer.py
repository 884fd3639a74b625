"""A real PgBouncer in transaction mode on 127.0.0.1, in front of the test server: what Supabase's
pooler on port 6543 is. Backends are shared between clients (a small pool), so anything that keeps
session state across transactions breaks here as it would in production.

Installs the Debian package when it is missing and the tests run as root (CI: a fresh machine);
otherwise the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from leadlink.runtime.ports import free_port

PGBOUNCER_PATHS = ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")
POOL_SIZE = 4  # per (database, user): fewer than the clients, so they take turns on the same backends


class PgBouncerUnavailable(RuntimeError):
    """PgBouncer is not installed and could not be installed; the message says why."""


def pgbouncer_binary() -> str:
    for candidate in (shutil.which("pgbouncer"), *PGBOUNCER_PATHS):
        if candidate and Path(candidate).exists():
            return candidate
    if os.geteuid() != 0:
        raise PgBouncerUnavailable("pgbouncer is not installed and the tests do not run as root "
                                   "(apt-get install pgbouncer)")
    if not shutil.which("apt-get"):
        raise PgBouncerUnavailable("pgbouncer is not installed and there is no apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends",
                                            "pgbouncer"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            raise PgBouncerUnavailable(f"`{' '.join(command)}` failed: {tail[0]}")
    for candidate in PGBOUNCER_PATHS:
        if Path(candidate).exists():
            return candidate
    raise PgBouncerUnavailable("apt-get installed pgbouncer but no binary was found")


def _run_as() -> str | None:
    """PgBouncer refuses to run as root: drop to an unprivileged user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    return None


class PgBouncer:
    def __init__(self, server_url: str, workdir: Path, pool_size: int = POOL_SIZE) -> None:
        self.server = urlsplit(server_url)
        self.workdir = workdir
        self.pool_size = pool_size
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        user = self.server.username or "postgres"
        target = f"host={self.server.hostname or '127.0.0.1'} port={self.server.port or 5432} user={user}"
        if self.server.password:
            target += f" password={self.server.password}"
        (self.workdir / "userlist.txt").write_text(f'"{user}" ""\n')
        config = self.workdir / "pgbouncer.ini"
        config.write_text("\n".join([
            "[databases]",
            f"* = {target}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {self.port}",
            "unix_socket_dir =",
            "auth_type = trust",
            f"auth_file = {self.workdir / 'userlist.txt'}",
            "pool_mode = transaction",
            f"default_pool_size = {self.pool_size}",
            "min_pool_size = 0",
            "reserve_pool_size = 0",
            "max_client_conn = 500",
            "max_db_connections = 0",
            # what Supabase's pooler (Supavisor) also tolerates; `options` is NOT ignored: a client
            # that sends it fails here as it would there
            "ignore_startup_parameters = extra_float_digits",
            "server_check_delay = 0",
            "log_connections = 0",
            "log_disconnections = 0",
            "server_login_retry = 1",
            "query_wait_timeout = 60",
            f"logfile = {self.workdir / 'pgbouncer.log'}",
            f"pidfile = {self.workdir / 'pgbouncer.pid'}",
            "",
        ]))
        return config

    def start(self) -> PgBouncer:
        binary = pgbouncer_binary()
        config = self._write_config()
        command = [binary]
        user = _run_as()
        if user:
            shutil.chown(self.workdir, user)
            for path in self.workdir.iterdir():
                shutil.chown(path, user)
            command += ["-u", user]
        command.append(str(config))
        # not a pipe: nobody reads it, and a full pipe would stall the pooler itself
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PgBouncerUnavailable(f"pgbouncer exited at start: {self.log_tail()}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise PgBouncerUnavailable(f"pgbouncer did not listen on {self.port}: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        path = self.workdir / "pgbouncer.log"
        return "\n".join(path.read_text().splitlines()[-lines:]) if path.exists() else ""

    def url_for(self, direct_url: str) -> str:
        """The same database, through the pooler."""
        parts = urlsplit(direct_url)
        user = parts.username or "postgres"
        return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{self.port}"))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

"""Run dbt (and dbt-aware tools such as sqlfluff) against the database leadlink resolved.

The profile is `profiles.yml.example`, which reads everything from LEADLINK_DB_* variables: we fill
those from the database URL, so `leadlink dbt build` needs no setup, and an analyst with their own
PostgreSQL can copy the same file to ~/.dbt/profiles.yml and run plain `dbt build`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO
from urllib.parse import parse_qs, unquote, urlsplit

from loaders.settings import Settings


def url_to_profile_env(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    env = {
        "LEADLINK_DB_HOST": parts.hostname or query.get("host", ["127.0.0.1"])[0],
        "LEADLINK_DB_PORT": str(parts.port or query.get("port", ["5432"])[0]),
        "LEADLINK_DB_USER": unquote(parts.username or query.get("user", ["postgres"])[0]),
        "LEADLINK_DB_PASSWORD": unquote(parts.password or query.get("password", [""])[0]),
        "LEADLINK_DB_NAME": unquote(parts.path.lstrip("/") or query.get("dbname", ["postgres"])[0]),
    }
    if "sslmode" in query:
        env["LEADLINK_DB_SSLMODE"] = query["sslmode"][0]
    return env


def _profiles_dir(settings: Settings) -> Path:
    """A directory holding profiles.yml: a copy of the committed example, refreshed when it changes."""
    target = settings.home_dir / "dbt-profiles"
    target.mkdir(parents=True, exist_ok=True)
    source = settings.project_dir / "profiles.yml.example"
    destination = target / "profiles.yml"
    if not destination.exists() or destination.read_bytes() != source.read_bytes():
        shutil.copyfile(source, destination)
    return target


def dbt_environment(settings: Settings, url: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(url_to_profile_env(url))
    env.setdefault("LEADLINK_DB_SCHEMA", settings.analytics_schema)
    env.setdefault("LEADLINK_RAW_SCHEMA", settings.raw_schema)
    env.setdefault("LEADLINK_CRM_SCHEMA", settings.crm_schema)
    # the phone functions' schema: Python calls them where dbt installs them
    env["LEADLINK_FUNCTION_SCHEMA"] = settings.function_schema
    if settings.uses_embedded_database:
        # dbt and the server share this machine: a thread per core (more only contend)
        env.setdefault("LEADLINK_DBT_THREADS", str(max(2, os.cpu_count() or 2)))
    env["DBT_PROFILES_DIR"] = str(_profiles_dir(settings))
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    env.setdefault("DBT_PROJECT_DIR", str(settings.project_dir))
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    return env


def dbt_executable() -> str:
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


# What a signal to leadlink becomes for its child: dbt cancels its queries and stops on SIGINT
# (on SIGTERM it would die with its statements still running on the server).
FORWARDED = {signal.SIGTERM: signal.SIGINT, signal.SIGINT: signal.SIGINT}
DEFAULT_FORWARD = (signal.SIGTERM, signal.SIGINT)


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: get SIGINT when leadlink dies (even by `kill -9`), so no dbt
    outlives the run whose lock covered it and collides with the next run's build."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGINT)
    except (OSError, AttributeError):
        pass  # not Linux: the lock's lease still bounds the overlap


def _child_options() -> dict[str, object]:
    """Own process group (we forward signals ourselves, once) and death with the parent."""
    options: dict[str, object] = {"process_group": 0}
    if sys.platform.startswith("linux"):
        options["preexec_fn"] = _die_with_parent
    return options


class ChildRun(subprocess.CompletedProcess):
    """A finished child, and the signal that made leadlink stop it (None: it ended by itself)."""

    def __init__(self, args: list[str], returncode: int, stdout: str = "", stderr: str = "",
                 signalled: int | None = None) -> None:
        super().__init__(args, returncode, stdout, stderr)
        self.signalled = signalled


@contextmanager
def forwarding(process: subprocess.Popen, signals: Sequence[int], received: list[int]) -> Iterator[None]:
    """While the block runs, `signals` sent to leadlink go to the child's process group (it runs
    in its own group, so a terminal's Ctrl-C or a supervisor's SIGTERM reaches it through us,
    once, in the form it handles)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers can only be installed from the main thread
        return

    def forward(number: int, _frame: object) -> None:
        received.append(number)
        try:
            os.killpg(process.pid, FORWARDED.get(number, number))
        except ProcessLookupError:
            pass

    previous = {number: signal.signal(number, forward) for number in signals}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _json_line(text: str) -> str:
    """dbt's JSON events pass through; anything else it printed (a Python warning) is wrapped,
    so the stream stays one JSON object per line."""
    stripped = text.rstrip("\n")
    if stripped.startswith("{"):
        try:
            json.loads(stripped)
            return stripped + "\n"
        except ValueError:
            pass
    return json.dumps({"ts": datetime.now(UTC).isoformat(), "level": "info", "logger": "dbt",
                       "message": stripped}) + "\n"


def run_dbt(settings: Settings, url: str, args: Sequence[str], capture: bool = False, *,
            stream: TextIO | None = None, log_format: str | None = None,
            forward_signals: Sequence[int] = DEFAULT_FORWARD) -> ChildRun:
    """Run dbt. `capture`: return its output instead of printing it; `stream`: copy its output
    there line by line while it runs (`log_format="json"`: dbt's own JSON events). Signals in
    `forward_signals` reach dbt while it runs (see FORWARDED)."""
    command = [dbt_executable()]
    if log_format == "json":
        command += ["--log-format", "json"]
    elif stream is not None and not stream.isatty():
        command += ["--no-use-colors"]
    command += list(args)
    env = dbt_environment(settings, url)
    received: list[int] = []
    if capture:
        with subprocess.Popen(command, cwd=settings.project_dir, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              **_child_options()) as process:
            with forwarding(process, forward_signals, received):
                out, err = process.communicate()
        return ChildRun(command, process.returncode, out, err, received[0] if received else None)
    piped = subprocess.PIPE if stream is not None else None
    with subprocess.Popen(command, cwd=settings.project_dir, env=env, text=True, bufsize=1,
                          stdout=piped, stderr=subprocess.STDOUT if piped else None,
                          **_child_options()) as process:
        with forwarding(process, forward_signals, received):
            if stream is not None and process.stdout is not None:
                for line in process.stdout:
                    stream.write(_json_line(line) if log_format == "json" else line)
                    stream.flush()
            process.wait()
    return ChildRun(command, process.returncode, signalled=received[0] if received else None)


def run_with_dbt_env(settings: Settings, url: str, command: Sequence[str]) -> int:
    received: list[int] = []
    with subprocess.Popen(list(command), cwd=settings.project_dir, env=dbt_environment(settings, url),
                          **_child_options()) as process:
        with forwarding(process, DEFAULT_FORWARD, received):
            return process.wait()

"""The embedded server as a user meets it: `leadlink db up|down|status|url`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from leadlink.cli.main import cli
from leadlink.runtime.embedded import postgres_bin_dir
from leadlink.runtime.ports import free_port


@pytest.fixture
def embedded_env(tmp_path: Path) -> dict[str, str]:
    port = free_port()
    return {"LEADLINK_HOME": str(tmp_path / "home"), "LEADLINK_PG_PORT": str(port),
            "LEADLINK_DATABASE_URL": ""}


def run(env: dict[str, str], *args: str):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_up_twice_status_url_and_down(embedded_env: dict[str, str]) -> None:
    try:
        first = run(embedded_env, "db", "up")
        assert first.exit_code == 0, first.stdout
        second = run(embedded_env, "db", "up")
        assert second.exit_code == 0 and second.stdout == first.stdout
        status = run(embedded_env, "db", "status")
        assert status.exit_code == 0 and status.stdout.startswith("running")
        url = run(embedded_env, "db", "url").stdout.strip()
        assert url.endswith("/leadlink")
        psql = subprocess.run([str(postgres_bin_dir() / "psql"), url, "-Atc",
                               "select count(*) > 0 from raw.schema_migrations"],
                              capture_output=True, text=True)
        assert psql.stdout.strip() == "t", psql.stderr
        # the planner settings are given at every start (PLANNER_SETTINGS), not only at initdb
        planner = subprocess.run([str(postgres_bin_dir() / "psql"), url, "-Atc",
                                  "select current_setting('random_page_cost') || ' '"
                                  " || current_setting('jit')"], capture_output=True, text=True)
        assert planner.stdout.strip() == "1.1 off", planner.stderr
    finally:
        assert run(embedded_env, "db", "down").exit_code == 0
    stopped = run(embedded_env, "db", "status")
    assert stopped.exit_code == 1 and stopped.stdout.startswith("stopped")
    assert run(embedded_env, "db", "down").stdout.strip() == "not running"


def test_stale_pid_file_after_a_crash_is_handled(embedded_env: dict[str, str]) -> None:
    try:
        assert run(embedded_env, "db", "up").exit_code == 0
        pgdata = Path(embedded_env["LEADLINK_HOME"]) / "pgdata"
        pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGKILL)
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        assert (pgdata / "postmaster.pid").exists()
        again = run(embedded_env, "db", "up")
        assert again.exit_code == 0, again.stdout
        assert run(embedded_env, "db", "status").stdout.startswith("running")
    finally:
        run(embedded_env, "db", "down")


def test_busy_port_is_replaced_by_a_free_one(embedded_env: dict[str, str]) -> None:
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", int(embedded_env["LEADLINK_PG_PORT"])))
    blocker.listen()
    try:
        result = run(embedded_env, "db", "up")
        assert result.exit_code == 0, result.stdout
        url = run(embedded_env, "db", "url").stdout.strip()
        assert f":{embedded_env['LEADLINK_PG_PORT']}/" not in url
    finally:
        blocker.close()
        run(embedded_env, "db", "down")

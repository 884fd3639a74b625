"""Settings: read once, typed, defaults as the README documents them, and a bad value is exit 3
naming the variable (through the real CLI), never a traceback. Database errors are one line too."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import psycopg2
import pytest
from click.testing import CliRunner

from leadlink.cli.main import cli
from leadlink.runtime.ports import free_port
from loaders.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
PHONE = "+919876543210"


def invoke(env: dict[str, str], *args: str):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_defaults_are_the_documented_ones() -> None:
    settings = Settings.from_environ({"LEADLINK_PROJECT_DIR": str(ROOT)})
    assert (settings.database_url, settings.embedded_port, settings.embedded_database) == \
        (None, 54329, "leadlink")
    assert (settings.raw_schema, settings.crm_schema, settings.analytics_schema,
            settings.function_schema) == ("raw", "crm", "analytics", "leadlink")
    assert settings.home_dir == ROOT / ".leadlink" and settings.log_format == "text"
    assert (settings.lookback_minutes, settings.lock_lease_seconds) == (120, 60)
    http = settings.http
    assert (http.timeout, http.connect_timeout, http.max_attempts, http.backoff_base,
            http.backoff_cap, http.max_server_wait) == (30, 10, 8, 1, 60, 900)
    knowlarity = settings.knowlarity
    assert (knowlarity.base_url, knowlarity.channel, knowlarity.page_size, knowlarity.chunk_hours,
            knowlarity.max_passes, knowlarity.initial_days) == \
        ("https://kpi.knowlarity.com", "Basic", 500, 24, 3, 7)
    meta = settings.meta
    assert (meta.graph_url, meta.api_version, meta.initial_days) == \
        ("https://graph.facebook.com", "v20.0", 90)
    hooks = settings.webhooks
    assert (hooks.max_body_bytes, hooks.pool_size, hooks.run_worker, hooks.poll_seconds,
            hooks.retry_base_seconds, hooks.retry_cap_seconds, hooks.fail_after) == \
        (1024 * 1024, 8, True, 2, 30, 3600, 5)
    assert (settings.publish.batch_size, settings.publish.lock_timeout_ms) == (20_000, 2_000)
    # missing credentials are no error: the sources are just not configured
    assert settings.missing_credentials("knowlarity") == ["KNOWLARITY_API_KEY", "KNOWLARITY_AUTH_TOKEN"]
    assert settings.missing_credentials("meta") == ["META_PAGE_ID", "META_PAGE_ACCESS_TOKEN"]
    assert settings.webhooks_configured == []


def test_values_are_parsed_and_empty_means_unset() -> None:
    settings = Settings.from_environ({
        "LEADLINK_PG_PORT": " 5999 ", "LEADLINK_HTTP_TIMEOUT": "2.5", "LEADLINK_WEBHOOK_WORKER": "OFF",
        "LEADLINK_FUNCTION_SCHEMA": "crm_functions", "LEADLINK_KNOWLARITY_PAGE_SIZE": "",
        "KNOWLARITY_API_KEY": "k", "KNOWLARITY_AUTH_TOKEN": "t", "META_APP_SECRET": "s",
        "LEADLINK_RUN_DBT_ARGS": '--exclude "tag:nightly"'})
    assert settings.run_dbt_args == ("--exclude", "tag:nightly")
    assert settings.embedded_port == 5999 and settings.http.timeout == 2.5
    assert settings.webhooks.run_worker is False and settings.function_schema == "crm_functions"
    assert settings.knowlarity.page_size == 500
    assert settings.missing_credentials("knowlarity") == []
    assert settings.webhooks_configured == ["META_APP_SECRET"]
    assert "'k'" not in repr(settings) and "'s'" not in repr(settings)  # secrets stay out of repr


def test_every_bad_value_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_environ({"LEADLINK_PG_PORT": "abc", "LEADLINK_HTTP_TIMEOUT": "-1",
                               "LEADLINK_WEBHOOK_WORKER": "maybe", "LEADLINK_LOG_FORMAT": "xml",
                               "LEADLINK_KNOWLARITY_CHUNK_HOURS": "0",
                               "LEADLINK_DATABASE_URL": "mysql://u:hunter22@h/db"})
    problems = caught.value.problems
    assert [problem.split()[0] for problem in problems] == [
        "LEADLINK_DATABASE_URL", "LEADLINK_PG_PORT", "LEADLINK_LOG_FORMAT", "LEADLINK_HTTP_TIMEOUT",
        "LEADLINK_KNOWLARITY_CHUNK_HOURS", "LEADLINK_WEBHOOK_WORKER"]
    assert "LEADLINK_PG_PORT must be an integer 1..65535, got 'abc'" in problems
    assert "hunter22" not in str(caught.value)  # a URL's value is never echoed


@pytest.mark.parametrize("args", [["db", "status"], ["load", "knowlarity"], ["migrate"],
                                  ["readiness"], ["phone", "normalize"]])
def test_bad_value_is_exit_3_naming_the_variable(args: list[str], tmp_path: Path) -> None:
    result = invoke({"LEADLINK_HOME": str(tmp_path), "LEADLINK_PG_PORT": "abc"}, *args)
    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "LEADLINK_PG_PORT must be an integer" in result.stderr and "'abc'" in result.stderr


def test_bad_value_as_json_and_run_json_still_prints_its_summary(tmp_path: Path) -> None:
    env = {"LEADLINK_HOME": str(tmp_path), "LEADLINK_HTTP_TIMEOUT": "-1"}
    result = invoke(env, "--log-format", "json", "run", "--json")
    assert result.exit_code == 3
    logged = json.loads(result.stderr)
    assert logged["level"] == "error" and logged["error"] == "configuration"
    assert logged["message"].startswith("LEADLINK_HTTP_TIMEOUT must be a number > 0")
    summary = json.loads(result.stdout)
    assert summary["status"] == "failed" and summary["exit_code"] == 3
    assert "LEADLINK_HTTP_TIMEOUT" in summary["message"]
    # the log format itself may come from the environment
    as_env = invoke({**env, "LEADLINK_LOG_FORMAT": "json"}, "db", "status")
    assert as_env.exit_code == 3 and json.loads(as_env.stderr)["error"] == "configuration"


def test_configuration_is_read_in_one_module() -> None:
    """No module but loaders/settings.py reads an environment variable (writing one for a child
    process, or copying the whole environment for one, is fine)."""
    offenders = []
    for path in sorted([*ROOT.glob("leadlink/**/*.py"), *ROOT.glob("loaders/**/*.py")]):
        if path == ROOT / "loaders" / "settings.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            reads = (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("get", "getenv")
                and (ast.unparse(node.func.value).endswith("environ") or ast.unparse(node.func.value) == "os")
            ) or (
                isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load)
                and ast.unparse(node.value).endswith("environ")
            ) or (
                isinstance(node, ast.keyword) and node.arg == "envvar"
            )
            if reads:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_db_url_hides_the_password_unless_asked(tmp_path: Path) -> None:
    env = {"LEADLINK_HOME": str(tmp_path), "LEADLINK_DATABASE_URL": "postgresql://app:s3cret-pw@db.example:5432/crm"}
    shown = invoke(env, "db", "url")
    assert shown.exit_code == 0 and shown.stdout.strip() == "postgresql://app:***@db.example:5432/crm"
    full = invoke(env, "db", "url", "--show-password")
    assert full.stdout.strip() == "postgresql://app:s3cret-pw@db.example:5432/crm"


def test_unreachable_database_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    url = f"postgresql://app:s3cret-pw@127.0.0.1:{free_port()}/crm"
    env = {"LEADLINK_HOME": str(tmp_path), "LEADLINK_DATABASE_URL": url}
    text = invoke(env, "migrate")
    assert text.exit_code == 1 and text.stderr.count("\n") == 1
    assert text.stderr.startswith("leadlink: database error: OperationalError: connection to server")
    assert "s3cret" not in text.stderr and "Traceback" not in text.stderr
    as_json = invoke(env, "--log-format", "json", "load", "file", "--source", "meta", __file__)
    assert as_json.exit_code == 1 and json.loads(as_json.stderr)["error"] == "database"
    status = invoke(env, "db", "status")
    assert status.exit_code == 1 and "not answering (OperationalError: connection" in status.stdout
    assert "s3cret" not in status.stdout


def _real_errors(url: str) -> list[psycopg2.Error]:
    """Errors PostgreSQL raised about a row holding a phone number (in DETAIL, and in the
    primary message)."""
    errors: list[psycopg2.Error] = []
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute("create table phones (phone text primary key)")
            cursor.execute("insert into phones values (%s)", (PHONE,))
            for statement in ("insert into phones values (%s)", "select %s::int"):
                try:
                    cursor.execute("savepoint attempt")
                    cursor.execute(statement, (PHONE,))
                except psycopg2.Error as error:
                    errors.append(error)
                    cursor.execute("rollback to savepoint attempt")
    finally:
        conn.close()
    assert len(errors) == 2 and PHONE in str(errors[0]) and PHONE in str(errors[1])
    return errors


def test_database_errors_never_echo_row_values(run_cli, database_url: str, monkeypatch) -> None:
    for error in _real_errors(database_url):
        def fail(*_args, error=error, **_kwargs):
            raise error

        monkeypatch.setattr("leadlink.cli.db.migrate", fail)
        result = run_cli("migrate")
        assert result.exit_code == 1 and result.stderr.count("\n") == 1
        assert "9876543210" not in result.stderr and "DETAIL" not in result.stderr
        assert f"({error.pgcode})" in result.stderr  # the SQLSTATE says what kind of error


def test_embedded_server_that_cannot_start_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "pgdata").mkdir(parents=True)
    (tmp_path / "pgdata" / "notes.txt").write_text("not a cluster")
    result = invoke({"LEADLINK_HOME": str(tmp_path), "LEADLINK_DATABASE_URL": "",
                     "LEADLINK_PG_PORT": str(free_port())}, "db", "up")
    last = result.stderr.splitlines()[-1]  # after the INFO line saying it tried
    assert result.exit_code == 1 and last.startswith("leadlink: database error: ")
    assert "is not a PostgreSQL data directory" in last and "Traceback" not in result.stderr



def test_function_schema_is_one_setting_for_python_and_dbt(monkeypatch, tmp_path: Path) -> None:
    """The schema dbt installs the phone functions into is the one Python calls them in: the macro
    reads LEADLINK_FUNCTION_SCHEMA, and dbt's child environment carries the settings' value even
    when the process environment says otherwise. (The install itself runs in test_phone_normalize.)"""
    from leadlink.identity.phone import function_schema
    from leadlink.runtime.dbt_runner import dbt_environment

    monkeypatch.setenv("LEADLINK_FUNCTION_SCHEMA", "not_this_one")
    settings = Settings.from_environ({"LEADLINK_PROJECT_DIR": str(ROOT), "LEADLINK_HOME": str(tmp_path),
                                      "LEADLINK_FUNCTION_SCHEMA": "ll_functions"})
    assert function_schema(settings) == "ll_functions"
    assert dbt_environment(settings, "postgresql://postgres@127.0.0.1:1/x")["LEADLINK_FUNCTION_SCHEMA"] == \
        "ll_functions"
    macro = (ROOT / "macros" / "phone" / "install_phone_functions.sql").read_text()
    assert "env_var('LEADLINK_FUNCTION_SCHEMA', 'leadlink')" in macro and "var('leadlink_function" not in macro

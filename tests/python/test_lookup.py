"""The receptionist's search through its two clients of the CRM function
leadlink.find_customer_with_leads_by_phone: `leadlink lookup` (exit codes, JSON, text) and
`GET /lookup` on `leadlink serve` (200 / 401 / 404, the CRM in another database)."""

from __future__ import annotations

import json
import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from crmhelpers import crm_template, plan  # noqa: F401 - fixtures
from dbhelpers import admin_execute, cli_env, invoke, query, with_database
from livehelpers import database_copy, drop_database
from psycopg2 import sql

with warnings.catch_warnings():  # newer Starlette suggests httpx2 for its test client
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from leadlink.receiver.app import ReceiverConfig, create_app
from loaders.database import migrate
from loaders.settings import Settings

TOKEN = "lookup-test-token"


def _function_answer(url: str, phone: str) -> dict:
    return json.loads(query(url, "select leadlink.find_customer_with_leads_by_phone(%s)::text",
                            (phone,))[0][0])


@pytest.fixture
def crm_copy(pg_admin_url: str, crm_template: str, tmp_path: Path) -> Iterator[dict]:  # noqa: F811
    with database_copy(pg_admin_url, crm_template) as url:
        yield {"url": url, "env": {**cli_env(url, tmp_path), "LEADLINK_CRM_SCHEMA": "crm"}}


def test_lookup_command_is_a_client_of_the_function(crm_copy: dict):
    url, env = crm_copy["url"], crm_copy["env"]
    for writing in ("9008035173", "+91 90080-35173", "0091 9008035173"):
        result = invoke(env, "lookup", "--json", writing)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == _function_answer(url, "9008035173")
    text = invoke(env, "lookup", "09008035173")
    assert text.exit_code == 0
    assert "+919008035173  customer 1  ANANYA SHARMA" in text.output and "lead 1001" in text.output
    for writing in ("9999999999", "anonymous", "+91 98111 00000"):
        result = invoke(env, "lookup", "--json", writing)
        assert result.exit_code == 1, result.output
        assert json.loads(result.stdout)["customer"] is None
    uk = invoke(env, "lookup", "--json", "--region", "GB", "07411 123456")
    assert json.loads(uk.stdout)["phone_e164"] == "+447411123456"


def test_lookup_command_without_the_functions_says_what_to_run(database_url: str, tmp_path: Path):
    result = invoke(cli_env(database_url, tmp_path), "lookup", "9008035173")
    assert result.exit_code == 1 and "leadlink crm install" in result.output


def _client(settings: Settings, url: str) -> TestClient:
    config = ReceiverConfig(knowlarity_token="k", meta_app_secret="s", meta_verify_token="v",
                            pool_size=2, run_worker=False)
    return TestClient(create_app(settings, url, config))


def test_lookup_endpoint_answers_the_function_json_behind_the_bearer_token(crm_copy: dict):
    url, env = crm_copy["url"], crm_copy["env"]
    settings = Settings.from_environ({**os.environ, **env, "LEADLINK_LOOKUP_TOKEN": TOKEN})
    migrate(url, settings)
    with _client(settings, url) as client:
        ok = client.get("/lookup", params={"phone": "+91 90080 35173"},
                        headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and ok.headers["content-type"] == "application/json"
        assert ok.json() == _function_answer(url, "9008035173")
        assert ok.json()["customer"]["id"] == 1
        assert client.get("/lookup", params={"phone": "9008035173"}).status_code == 401
        wrong = client.get("/lookup", params={"phone": "9008035173"},
                           headers={"Authorization": f"Bearer {TOKEN}x"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        assert client.get("/lookup", params={"phone": "9008035173"},
                          headers={"Authorization": TOKEN}).status_code == 401
        missing = client.get("/lookup", headers={"Authorization": f"Bearer {TOKEN}"})
        assert missing.status_code == 400
    off = Settings.from_environ({**os.environ, **env})
    with _client(off, url) as client:
        assert client.get("/lookup", params={"phone": "9008035173"},
                          headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_lookup_endpoint_reads_the_crm_database_when_it_is_another_one(
        crm_copy: dict, pg_admin_url: str, tmp_path: Path):
    name = f"receiver_{uuid.uuid4().hex[:10]}"
    admin_execute(pg_admin_url, sql.SQL("create database {}").format(sql.Identifier(name)))
    own = with_database(pg_admin_url, name)
    try:
        settings = Settings.from_environ({**os.environ, **cli_env(own, tmp_path),
                                          "LEADLINK_LOOKUP_TOKEN": TOKEN,
                                          "LEADLINK_CRM_DATABASE_URL": crm_copy["url"]})
        migrate(own, settings)
        with _client(settings, own) as client:
            answer = client.get("/lookup", params={"phone": "919008035173"},
                                headers={"Authorization": f"Bearer {TOKEN}"})
            assert answer.status_code == 200, answer.text
            assert answer.json() == _function_answer(crm_copy["url"], "9008035173")
        unrelated = Settings.from_environ({**os.environ, **cli_env(own, tmp_path),
                                           "LEADLINK_LOOKUP_TOKEN": TOKEN})
        with _client(unrelated, own) as client:
            # the receiver's own database has no CRM functions: a clear 503, never a traceback
            answer = client.get("/lookup", params={"phone": "9008035173"},
                                headers={"Authorization": f"Bearer {TOKEN}"})
            assert answer.status_code == 503 and "crm install" in answer.json()["error"]
    finally:
        drop_database(pg_admin_url, name)

"""The fingerprint that lets a `leadlink run` cycle with nothing new skip its build and publish:
it must change with everything dbt reads or built (a landed record, any CRM write, even one that
leaves updated_at alone, a project file, a relation rebuilt or dropped) and with nothing else."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from dbhelpers import query

from leadlink.pipeline import nothing_new
from leadlink.pipeline.scheduled_run import build_args, chooses_nodes, live_build_allowed
from loaders.settings import Settings

LEADLINK = str(Path(sys.executable).parent / "leadlink")
CRM = """
create schema crm;
create table crm.sources (id bigint primary key, display_name text);
create table crm.customers (id bigint primary key, full_name text, updated_at timestamptz);
create table crm.leads_master (id bigint primary key, customer_id bigint);
create table crm.lead_sources_history (id bigint primary key, lead_id bigint);
insert into crm.sources values (1, 'Knowlarity'), (2, 'Facebook');
insert into crm.customers values (1, 'Asha', '2026-01-01'), (2, 'Ravi', '2026-01-01');
insert into crm.leads_master values (10, 1), (11, 2);
create schema analytics;
create table analytics.customers (customer_id bigint);
"""


def run(url: str, statement: str) -> None:
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement)
    finally:
        conn.close()


@pytest.fixture
def project(tmp_path: Path, settings: Settings) -> Settings:
    """The settings with a small dbt project of its own (the tests edit its files)."""
    folder = tmp_path / "project"
    (folder / "models").mkdir(parents=True)
    (folder / "seeds").mkdir()
    (folder / "tests" / "python").mkdir(parents=True)
    (folder / "dbt_project.yml").write_text("name: probe\n")
    (folder / "models" / "customers.sql").write_text("select 1 as customer_id\n")
    (folder / "seeds" / "branches.csv").write_text("branch_id\n1\n")
    return dataclasses.replace(settings, project_dir=folder)


def now(settings: Settings, url: str) -> nothing_new.Fingerprint:
    fingerprint, _ = nothing_new.look(settings, url, build_args(settings))
    assert fingerprint is not None
    return fingerprint


def test_unknown_without_the_crm_tables_so_the_cycle_builds(project, database_url):
    assert nothing_new.look(project, database_url, ["build"]) == (None, {})


def test_changes_with_every_input_and_with_nothing_else(project, database_url):
    run(database_url, CRM)
    first = now(project, database_url)
    assert now(project, database_url) == first  # reading changes nothing

    run(database_url, "insert into raw.load_batches (source, method) values ('knowlarity', 'file');"
                      " insert into raw.knowlarity_calls (call_uuid, payload, payload_shape,"
                      " payload_md5, batch_id, landed_from) values ('c-1', '{}', 'api', 'x', 1, 'file')")
    landed = now(project, database_url)
    assert landed.inputs != first.inputs and landed.project == first.project
    assert landed.outputs == first.outputs

    # the app rewrites a row without touching updated_at: still a change
    run(database_url, "update crm.customers set full_name = full_name where id = 2")
    edited = now(project, database_url)
    assert edited.inputs != landed.inputs

    # a row deleted and another inserted: same count, still a change
    run(database_url, "delete from crm.leads_master where id = 11;"
                      " insert into crm.leads_master values (12, 2)")
    swapped = now(project, database_url)
    assert swapped.inputs != edited.inputs
    assert query(database_url, "select count(*) from crm.leads_master") == [(2,)]

    run(database_url, "insert into crm.lead_sources_history values (1, 10)")
    assert now(project, database_url).inputs != swapped.inputs


def test_changes_with_the_project_and_its_arguments(project, database_url):
    run(database_url, CRM)
    first = now(project, database_url)
    seed = project.project_dir / "seeds" / "branches.csv"
    seed.write_text("branch_id\n1\n2\n")
    seeded = now(project, database_url)
    assert seeded.project != first.project and seeded.inputs == first.inputs
    # the Python tests beside the dbt tests are not the project
    (project.project_dir / "tests" / "python" / "test_x.sql").write_text("select 1")
    assert now(project, database_url).project == seeded.project
    with_vars = dataclasses.replace(project, run_dbt_args=("--vars", "{lead_open_window_days: 30}"))
    assert now(with_vars, database_url).project != seeded.project


def test_changes_when_a_relation_is_rebuilt_or_dropped(project, database_url):
    run(database_url, CRM)
    first = now(project, database_url)
    run(database_url, "drop table analytics.customers; create table analytics.customers (customer_id bigint)")
    rebuilt = now(project, database_url)
    assert rebuilt.outputs != first.outputs and rebuilt.inputs == first.inputs
    run(database_url, "truncate analytics.customers")  # a new file node
    truncated = now(project, database_url)
    assert truncated.outputs != rebuilt.outputs
    run(database_url, "create schema analytics_seeds; create table analytics_seeds.branches (id int)")
    assert now(project, database_url).outputs != truncated.outputs
    # another schema whose name only starts the same is not leadlink's
    run(database_url, "create schema analyticsx; create table analyticsx.t (id int)")
    assert now(project, database_url).outputs == now(project, database_url).outputs


def test_a_recorded_stage_matches_until_something_changes(project, database_url):
    run(database_url, CRM)
    before = now(project, database_url)
    nothing_new.record(project, database_url, nothing_new.BUILT, before)
    _, recorded = nothing_new.look(project, database_url, build_args(project))
    assert recorded == {nothing_new.BUILT: before}
    # what the build left is recorded as it is after the build, the inputs as they were before it
    run(database_url, "drop table analytics.customers; create table analytics.customers (customer_id bigint)")
    run(database_url, "insert into crm.customers values (3, 'Meena', now())")
    nothing_new.record(project, database_url, nothing_new.PUBLISHED, before)
    after, recorded = nothing_new.look(project, database_url, build_args(project))
    assert recorded[nothing_new.PUBLISHED].inputs == before.inputs != after.inputs
    assert recorded[nothing_new.PUBLISHED].outputs == after.outputs != before.outputs
    nothing_new.forget(project, database_url, (nothing_new.BUILT, nothing_new.PUBLISHED))
    assert nothing_new.look(project, database_url, build_args(project))[1] == {}


def test_live_builds_leave_out_seeds_unit_tests_and_static_tests_unless_told_otherwise(project):
    assert build_args(project) == ["build"]
    assert build_args(project, live=True) == [
        "build", "--exclude", "resource_type:seed", "resource_type:unit_test", "tag:static"]
    same = nothing_new.Fingerprint("p", "i", "o")
    assert live_build_allowed(project, same, same)
    assert not live_build_allowed(project, same, None)  # no build of this project passed here
    assert not live_build_allowed(project, same, dataclasses.replace(same, project="q"))
    assert not live_build_allowed(project, same, dataclasses.replace(same, outputs="r"))
    # the fingerprint differs in its inputs only: new records, the seeds and static results stand
    assert live_build_allowed(project, same, dataclasses.replace(same, inputs="j"))
    chosen = dataclasses.replace(project, run_dbt_args=("--exclude", "tag:nightly"))
    assert chooses_nodes(chosen) and not live_build_allowed(chosen, same, same)
    assert build_args(chosen) == ["build", "--exclude", "tag:nightly"]


def test_a_live_build_keeps_every_model_and_model_test(leadlink_env):
    """What LIVE_EXCLUDE leaves out of the real project, by dbt's own selection (`dbt ls`)."""
    env = {**os.environ, **leadlink_env, "DBT_TARGET_PATH": leadlink_env.get("LEADLINK_HOME", "") + "/ls"}

    def listed(*selection: str) -> set[tuple[str, str]]:
        done = subprocess.run([LEADLINK, "dbt", "ls", "--resource-type", "all", "--output", "json",
                               "--output-keys", "name resource_type depends_on", "-q", *selection],
                              env=env, text=True, capture_output=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        nodes = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        return {(node["resource_type"], node["name"]) for node in nodes
                if node["resource_type"] in ("model", "seed", "test", "unit_test")}, nodes

    everything, nodes = listed()
    live, _ = listed("--exclude", *build_args(Settings.from_environ(env), live=True)[2:])
    left_out = everything - live
    kinds = {kind for kind, _ in left_out}
    assert kinds == {"seed", "unit_test", "test"}
    assert {name for kind, name in everything if kind in ("model", "seed", "unit_test")} - {
        name for kind, name in live} == {name for kind, name in everything if kind in ("seed", "unit_test")}
    seeds = {name for kind, name in everything if kind == "seed"}
    by_name = {node["name"]: node for node in nodes}
    for kind, name in left_out:
        if kind == "test":  # a test left out reads seeds only, or is the static phone test
            parents = by_name[name]["depends_on"]["nodes"]
            assert name == "test_normalize_phone_cases" or all(
                parent.split(".")[-1] in seeds for parent in parents), (name, parents)
    assert ("test", "test_normalize_phone_cases") in left_out
    assert sum(1 for kind, _ in live if kind == "test") >= 100

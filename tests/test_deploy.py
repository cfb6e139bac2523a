"""Deployments: prefect.yaml as data, and `migration-guard deploy` against a real Prefect server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from migration_guard.deployments.automations import (
    DEAD_MANS_SWITCH, FAILURE_AUTOMATION, FLOW_NAMES, build_automations,
)
from migration_guard.deployments.specs import PREFECT_YAML, load_specs
from migration_guard.tasks.errors import ConfigError
from tests.helpers import make_prisma_project, run_cli, run_cli_process
from tests.prefect_server import running_prefect_server, server_env

REPO = Path(__file__).resolve().parent.parent


def by_name():
    return {spec.name: spec for spec in load_specs()}


def test_prefect_yaml_has_the_five_deployments_with_their_schedules_and_limits():
    specs = by_name()
    assert list(specs) == ["healthcheck", "maintenance", "safe-migrate", "recover", "validate"]
    assert specs["healthcheck"].crons == (("0 * * * *", "UTC"),)
    assert (specs["healthcheck"].concurrency_limit, specs["healthcheck"].collision_strategy) == (1, "CANCEL_NEW")
    assert specs["maintenance"].crons == (("0 2 * * *", "UTC"),)
    assert (specs["safe-migrate"].concurrency_limit, specs["safe-migrate"].collision_strategy) == (1, "ENQUEUE")
    assert specs["safe-migrate"].crons == () and specs["recover"].crons == () and specs["validate"].crons == ()
    assert specs["recover"].concurrency_limit == 1
    for spec in specs.values():
        assert spec.parameters == {"database_block": "default", "project_block": "default"}
        assert spec.work_pool == "migration-guard"
        assert (REPO / spec.entrypoint.split(":")[0]).parent.is_dir()


def test_every_installed_flow_matches_its_deployment():
    for spec in load_specs():
        flow = spec.load_flow()
        if flow is None:
            continue  # not written yet; deploy reports it
        assert flow.name == spec.name, spec.entrypoint
        assert (REPO / spec.entrypoint.split(":")[0]).is_file()
        params = set(flow.parameters.properties)
        assert {"database_url", "migrations_dir", "migration_tool", "database_block", "project_block"} <= params


def test_recover_parameters_have_descriptions_for_the_ui():
    flow = by_name()["recover"].load_flow()
    if flow is None:
        pytest.skip("flows/recover.py has not landed yet")
    properties = flow.parameters.properties
    assert "approve" in properties
    for name in ("approve", "mode", "backup"):
        assert properties[name].get("description"), f"recover parameter {name} has no description"


def test_a_malformed_prefect_yaml_is_one_clear_error(tmp_path):
    bad = tmp_path / "prefect.yaml"
    bad.write_text("deployments:\n  - name: x\n")
    with pytest.raises(ConfigError, match="deployment 'x' is malformed"):
        load_specs(bad)
    assert load_specs(PREFECT_YAML)


def test_automations_are_a_reactive_failure_trigger_and_a_proactive_dead_mans_switch():
    failure, silence = build_automations(["00000000-0000-0000-0000-000000000001"])
    assert failure.name == FAILURE_AUTOMATION
    assert failure.trigger.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    assert failure.trigger.posture.value == "Reactive"
    assert sorted(failure.trigger.match_related["prefect.resource.name"]) == sorted(FLOW_NAMES)
    assert failure.actions[0].type == "send-notification"
    assert silence.name == DEAD_MANS_SWITCH
    assert silence.trigger.posture.value == "Proactive"
    assert silence.trigger.expect == {"prefect.flow-run.Completed", "prefect.flow-run.Failed"}
    assert silence.trigger.within == timedelta(seconds=7200)
    assert silence.trigger.match_related["prefect.resource.name"] == ["healthcheck"]


def test_deploy_without_a_prefect_server_is_a_usage_error(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: None}):
        result = run_cli(["deploy"])
    assert result.exit_code == 2
    assert "PREFECT_API_URL" in result.stderr


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory):
    with running_prefect_server(tmp_path_factory.mktemp("prefect-deploy-home")) as api_url:
        yield api_url


@pytest.mark.slow
def test_deploy_registers_blocks_deployments_and_automations(prefect_api, db_url, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    migrations = make_prisma_project(tmp_path, {"20250101000000_init": "CREATE TABLE t (id int);"})
    env = server_env(tmp_path / "home", prefect_api)
    env.update({"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(migrations),
                "ALERT_WEBHOOK_URL": "http://127.0.0.1:9/hook"})
    first = run_cli_process(["deploy"], env=env, cwd=tmp_path, timeout=180)
    installed = [s for s in load_specs() if s.load_flow() is not None]
    assert first.exit_code == (0 if len(installed) == 5 else 1), first.output
    assert "automation migration-guard: flow run failed or crashed" in first.stdout, first.output
    second = run_cli_process(["deploy"], env=env, cwd=tmp_path, timeout=180)
    assert second.exit_code == first.exit_code, second.output

    with temporary_settings({PREFECT_API_URL: prefect_api}), get_client(sync_client=True) as client:
        deployments = {d.name: d for d in client.read_deployments()}
        assert set(deployments) == {s.name for s in installed}
        if "healthcheck" in deployments:
            healthcheck = deployments["healthcheck"]
            assert [s.schedule.cron for s in healthcheck.schedules] == ["0 * * * *"]
            assert healthcheck.global_concurrency_limit.limit == 1
            assert healthcheck.concurrency_options.collision_strategy.value == "CANCEL_NEW"
            assert healthcheck.entrypoint == "migration_guard.flows.healthcheck.healthcheck_flow"
            assert healthcheck.work_pool_name == "migration-guard"
            assert healthcheck.parameters == {"database_block": "default", "project_block": "default"}
        if "safe-migrate" in deployments:
            assert deployments["safe-migrate"].concurrency_options.collision_strategy.value == "ENQUEUE"
            assert deployments["safe-migrate"].schedules == []
        assert client.read_work_pool("migration-guard").type == "process"
        automations = [a for a in client.read_automations() if a.name.startswith("migration-guard")]
        assert sorted(a.name for a in automations) == sorted([FAILURE_AUTOMATION, DEAD_MANS_SWITCH])  # no duplicates
        database = client.read_block_document_by_name("default", "migration-guard-postgres-database",
                                                       include_secrets=False)
        assert database.data["connect_timeout"] == 5


@pytest.mark.slow
def test_serve_deployments_serves_every_flow_from_one_process(prefect_api, db_url, tmp_path):
    import subprocess
    import time

    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from tests.helpers import CLI
    from tests.prefect_server import stop_process_group

    migrations = make_prisma_project(tmp_path, {"20250101000000_init": "CREATE TABLE t (id int);"})
    env = server_env(tmp_path / "home", prefect_api)
    env.update({"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(migrations), "ENVIRONMENT": "served",
                "LOG_DIR": str(tmp_path / "logs"), "ALERTS_DIR": str(tmp_path / "alerts"),
                "BACKUP_DIR": str(tmp_path / "backups")})
    assert run_cli_process(["blocks", "create-from-env", "served", "--overwrite"], env=env, timeout=120).exit_code == 0
    log = open(tmp_path / "serve.log", "w")
    served = subprocess.Popen([*CLI, "serve-deployments", "--blocks", "served"], env=env, cwd=tmp_path,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        with temporary_settings({PREFECT_API_URL: prefect_api}), get_client(sync_client=True) as client:
            expected = {s.name for s in load_specs() if s.load_flow() is not None}
            deadline = time.monotonic() + 120
            names: set[str] = set()
            while time.monotonic() < deadline and not expected <= names:
                time.sleep(1)
                names = {client.read_flow(d.flow_id).name for d in client.read_deployments() if d.name == "served"}
            assert expected <= names, (tmp_path / "serve.log").read_text()
            served_healthcheck = client.read_deployment_by_name("healthcheck/served")
            assert [s.schedule.cron for s in served_healthcheck.schedules] == ["0 * * * *"]
            assert served_healthcheck.parameters == {"database_block": "served", "project_block": "served"}
        ran = run_cli_process(["trigger", "healthcheck/served", "--timeout", "180"], env=env, cwd=tmp_path, timeout=240)
        assert ran.exit_code in (0, 1), ran.output  # 1 = a WARNING/HIGH finding; the run itself happened
        assert "Completed" in ran.output or "Failed" in ran.output
        assert list((tmp_path / "logs").glob("healthcheck*.log")), (tmp_path / "serve.log").read_text()[-2000:]
    finally:
        stop_process_group(served)
        log.close()
    assert served.poll() is not None


@pytest.mark.slow
def test_plain_prefect_deploy_reads_the_same_prefect_yaml(prefect_api, tmp_path):
    """`prefect deploy --prefect-file deployments/prefect.yaml --all` (the Prefect convention) works too."""
    import subprocess

    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from tests.prefect_server import PREFECT

    env = server_env(tmp_path / "home", prefect_api)
    env["MIGRATION_GUARD_HOME"] = str(REPO)
    done = subprocess.run([str(PREFECT), "--no-prompt", "deploy", "--prefect-file", "deployments/prefect.yaml", "--all"],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    installed = [s for s in load_specs() if s.load_flow() is not None]
    if len(installed) < 5:
        pytest.skip("prefect deploy --all needs every flow module")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with temporary_settings({PREFECT_API_URL: prefect_api}), get_client(sync_client=True) as client:
        healthcheck = client.read_deployment_by_name("healthcheck/healthcheck")
        recover = client.read_deployment_by_name("recover/recover")
    assert healthcheck.entrypoint == "flows/healthcheck.py:healthcheck_flow"
    assert [s.schedule.cron for s in healthcheck.schedules] == ["0 * * * *"]
    assert healthcheck.concurrency_options.collision_strategy.value == "CANCEL_NEW"
    assert healthcheck.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}]
    assert recover.parameter_openapi_schema["properties"]["approve"].get("description")

"""The healthcheck flow runs for real under Prefect's test harness: artifacts, alerts, red runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migration_guard.flows.healthcheck import healthcheck_flow
from migration_guard.tasks.healthcheck.pipeline import HealthcheckCritical

pytestmark = pytest.mark.prefect


def test_healthy_database_completes_with_artifacts(prefect_harness: None, db_url: str, tmp_path: Path) -> None:
    from prefect.artifacts import Artifact

    result = healthcheck_flow(database_url=db_url, environment="Flow Test", alerts_dir=str(tmp_path / "alerts"),
                              log_dir=str(tmp_path / "logs"))

    assert result["status"] == "OK"
    table = Artifact.get("db-health-flow-test")
    assert table is not None and "connectivity" in str(table.data)
    assert Artifact.get("db-health-alerts-flow-test") is not None
    lines = (tmp_path / "logs" / "healthcheck.log").read_text().splitlines()
    assert {json.loads(line)["check"] for line in lines} >= {"connectivity", "invalid_indexes"}


def test_high_alert_fails_the_run_and_keeps_the_report(prefect_harness: None, tmp_path: Path) -> None:
    state = healthcheck_flow(database_url="postgresql://app:S3cret-Flow@127.0.0.1:1/app", environment="flowtest",
                             alerts_dir=str(tmp_path / "alerts"), log_dir=str(tmp_path / "logs"),
                             return_state=True)

    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, HealthcheckCritical)
    assert error.report["status"] == "CRITICAL"
    assert error.report["alerts"]["firing"][0]["category"] == "DATABASE_CONNECTION"
    assert "S3cret-Flow" not in json.dumps(error.report)
    assert "S3cret-Flow" not in "".join(p.read_text() for p in (tmp_path / "alerts").glob("*.json"))


def test_cli_flow_mode_prints_the_report_and_exit_code(prefect_harness: None, tmp_path: Path) -> None:
    from tests.helpers import run_cli

    env = {"DATABASE_URL": "postgresql://app:Flow-Cli-Pw@127.0.0.1:1/app", "ALERTS_DIR": str(tmp_path / "a"),
           "LOG_DIR": str(tmp_path / "l")}
    result = run_cli(["healthcheck", "--flow", "--json"], env=env)

    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)["checks"][0]["status"] == "CRITICAL"
    assert "Flow-Cli-Pw" not in result.output


def test_cli_flow_mode_keeps_the_url_out_of_flow_parameters(prefect_harness: None, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client

    from tests.helpers import run_cli

    env = {"ALERTS_DIR": str(tmp_path / "a"), "LOG_DIR": str(tmp_path / "l")}
    result = run_cli(["--database-url", "postgresql://app:Param-Pw-808@127.0.0.1:1/app", "healthcheck", "--flow"],
                     env=env)

    assert result.exit_code == 2, result.output
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(limit=50)
    assert runs and all("Param-Pw-808" not in json.dumps(r.parameters) for r in runs)

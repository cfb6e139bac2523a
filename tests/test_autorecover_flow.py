"""Auto-recovery in the healthcheck flow (Prefect's test harness): the `auto_recover` parameter,
the `auto-recover` task, and the `db-health-recovery-<environment>` artifact beside the table."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from migration_guard.flows.healthcheck import healthcheck_flow
from tests.test_autorecover import _lock_holders, frozen_lock_holder  # noqa: F401 (a fixture)

pytestmark = pytest.mark.prefect


def test_the_flow_terminates_a_stale_lock_holder_and_publishes_what_it_did(
        prefect_harness: None, db_url: str, db: psycopg.Connection, tmp_path: Path, frozen_lock_holder: int) -> None:
    from prefect.artifacts import Artifact

    config = tmp_path / "healthcheck.json"
    config.write_text(json.dumps({"thresholds": {"stale_migration_lock": "0s"}}))

    result = healthcheck_flow(database_url=db_url, environment="Recovery Flow", config_path=str(config),
                              alerts_dir=str(tmp_path / "alerts"), log_dir=str(tmp_path / "logs"), auto_recover="safe")

    assert _lock_holders(db) == []
    assert result["status"] == "OK" and result["auto_recover"]["policy"] == "safe"
    [action] = result["auto_recover"]["actions"]
    assert action["state"] == "done" and action["subject"] == f"pid {frozen_lock_holder}"
    recovery = Artifact.get("db-health-recovery-recovery-flow")
    assert recovery is not None and f"## done: terminate pid {frozen_lock_holder}" in str(recovery.data)
    assert f"SELECT pg_terminate_backend({frozen_lock_holder});" in str(recovery.data)
    table = Artifact.get("db-health-recovery-flow")
    assert table is not None and "auto_recover" in str(table.data)

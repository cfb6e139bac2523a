"""The recover flow under Prefect: runs straight through with approve=True, publishes the report
artifact, fails the run when not recovered, and pauses for approval in the UI otherwise."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest

from tests.test_repair import _sql_project

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


def _fix_duplicates(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE items SET sku = 'c' WHERE id = 2")


def test_flow_recovers_with_approve_and_publishes_the_report(tmp_path: Path, db_url: str, prefect_harness) -> None:
    from prefect.artifacts import Artifact

    from migration_guard.flows.recover import recover_flow

    project = _sql_project(tmp_path, db_url)
    _fix_duplicates(db_url)

    result = recover_flow(database_url=db_url, migrations_dir=str(project.migrations_dir), approve=True,
                          backup=False)

    assert result["outcome"] == "recovered"
    assert result["verification"]["drift"]["clean"]
    artifact = Artifact.get("recover-report")
    assert artifact is not None and "# Recovery: recovered" in artifact.data
    assert "| 3 | 3 |" in artifact.data  # the diagnosis table row of the failing statement


def test_flow_run_fails_with_the_reason_when_not_recovered(tmp_path: Path, db_url: str, prefect_harness) -> None:
    from prefect.artifacts import Artifact

    from migration_guard.flows.recover import recover_flow

    project = _sql_project(tmp_path, db_url)

    state = recover_flow(database_url=db_url, migrations_dir=str(project.migrations_dir), approve=True,
                         backup=False, return_state=True)

    assert state.is_failed()
    assert "2 offending row(s)" in state.message
    assert "NOT recovered" in Artifact.get("recover-report").data


def test_flow_pauses_for_approval_and_resumes_with_input(tmp_path: Path, db_url: str, prefect_harness) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.flow_runs import resume_flow_run

    from migration_guard.flows.recover import recover_flow

    project = _sql_project(tmp_path, db_url)
    _fix_duplicates(db_url)
    outcome: dict = {}

    def run() -> None:
        outcome["state"] = recover_flow(database_url=db_url, migrations_dir=str(project.migrations_dir),
                                        backup=False, drift=False, approval_timeout_seconds=60, return_state=True)

    runner = threading.Thread(target=run)
    runner.start()
    paused = []
    with get_client(sync_client=True) as client:
        for _ in range(300):
            paused = client.read_flow_runs(flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))))
            if paused:
                break
            time.sleep(0.2)
    assert paused, "the run never paused for approval"
    with psycopg.connect(db_url) as conn:  # nothing was changed while waiting
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relname = 'items_sku_key'").fetchone() == (0,)

    resume_flow_run(paused[0].id, run_input={"approve": True, "comment": "go"})
    runner.join(120)

    assert outcome["state"].is_completed(), outcome["state"].message
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relname = 'items_sku_key'").fetchone() == (1,)


def test_cli_flow_option_runs_the_flow_and_keeps_the_url_out_of_parameters(tmp_path: Path, db_url: str,
                                                                           prefect_harness) -> None:
    from prefect.client.orchestration import get_client

    from tests.helpers import run_cli
    from tests.test_repair import _env

    project = _sql_project(tmp_path, db_url)
    _fix_duplicates(db_url)

    result = run_cli(["recover", "--flow", "--yes", "--json", "--no-backup"], _env(project, tmp_path))

    assert result.exit_code == 0, result.output
    assert '"outcome": "recovered"' in result.stdout
    with get_client(sync_client=True) as client:
        runs = [r for r in client.read_flow_runs() if r.parameters.get("migrations_dir") == str(project.migrations_dir)]
    assert runs and all("database_url" not in r.parameters or r.parameters["database_url"] is None for r in runs)


def test_flow_and_cli_take_the_backup_scope(tmp_path: Path, db_url: str, prefect_harness, monkeypatch) -> None:
    """``backup_scope`` (flow) / ``--backup-scope`` (CLI) choose what the pre-recovery backup holds."""
    from migration_guard.flows.recover import recover_flow
    from tests.helpers import run_cli
    from tests.test_repair import _env

    project = _sql_project(tmp_path, db_url)
    _fix_duplicates(db_url)
    monkeypatch.setenv("BACKUP_DIR", str(tmp_path / "backups"))
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE audit (id int); INSERT INTO audit SELECT generate_series(1, 20)")

    planned = run_cli(["recover", "--plan", "--backup-scope", "nope"], env=_env(project, tmp_path))
    result = recover_flow(database_url=db_url, migrations_dir=str(project.migrations_dir), approve=True,
                          drift=False, backup_scope="scoped")

    assert planned.exit_code == 2 and "expected one of auto, scoped, full, got 'nope'" in planned.output
    assert result["outcome"] == "recovered"
    scope = result["backup"]["scope"]
    assert scope["mode"] == "scoped" and ["public", "items"] in scope["tables"] and ["public", "audit"] not in scope["tables"]

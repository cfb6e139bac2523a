"""The recover flow's approval (issue 15, item 4): a described Resume form, the plan artifact headed
"Awaiting approval" while the run waits, the approver's comment in the report and the logs, domain
log lines per step, UI-phrased next steps, and what decline and the pause timeout do."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest

from tests.test_repair import _sql_project

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


@pytest.fixture
def info_logs():
    """The run logger at INFO (the test environment runs Prefect at WARNING), as in production."""
    import logging

    logger = logging.getLogger("prefect.flow_runs")
    before = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(before)


def _fix_duplicates(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE items SET sku = 'c' WHERE id = 2")


def _unique_index_count(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT count(*) FROM pg_class WHERE relname = 'items_sku_key'").fetchone()[0]


def _run_in_thread(**kwargs) -> tuple[threading.Thread, dict]:
    from migration_guard.flows.recover import recover_flow

    outcome: dict = {}

    def run() -> None:
        outcome["state"] = recover_flow(return_state=True, **kwargs)

    runner = threading.Thread(target=run)
    runner.start()
    return runner, outcome


def _paused_run():
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType

    with get_client(sync_client=True) as client:
        for _ in range(300):
            paused = client.read_flow_runs(flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))))
            if paused:
                return paused[0]
            time.sleep(0.2)
    return None


def _log_lines(flow_run_id) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    time.sleep(2.5)  # log batches reach the API every ~2 s
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return [log.message for log in logs]


def test_resume_form_fields_are_described():
    from migration_guard.flows.recover import RecoveryApproval

    schema = RecoveryApproval.model_json_schema()["properties"]
    assert schema["approve"]["description"].startswith("approve: run the plan above")
    assert schema["comment"]["description"].startswith("comment: recorded in the report")
    assert schema["approve"]["default"] is False


def test_next_steps_in_ui_runs_are_deployment_parameters():
    from migration_guard.flows.recover import ui_next_step

    text = ui_next_step("re-run migration-guard recover when ready (or --mode rollback)")
    assert "mode=rollback" in text and "--mode" not in text and "migration-guard recover" not in text


def test_decline_changes_nothing_and_records_the_comment(tmp_path: Path, db_url: str, prefect_harness, info_logs) -> None:
    from prefect.artifacts import Artifact
    from prefect.flow_runs import resume_flow_run

    project = _sql_project(tmp_path, db_url)
    _fix_duplicates(db_url)
    runner, outcome = _run_in_thread(database_url=db_url, migrations_dir=str(project.migrations_dir),
                                     backup=False, drift=False, approval_timeout_seconds=60)
    paused = _paused_run()
    assert paused is not None, "the run never paused for approval"
    plan = Artifact.get("recover-plan")
    assert plan is not None and plan.data.startswith("# Awaiting approval")
    assert "NOT recovered" not in plan.data and "## Plan" in plan.data

    resume_flow_run(paused.id, run_input={"approve": False, "comment": "not during business hours"})
    runner.join(120)

    state = outcome["state"]
    assert state.is_failed()
    assert "declined" in state.message and "not during business hours" in state.message
    assert _unique_index_count(db_url) == 0  # nothing was changed
    report = Artifact.get("recover-report").data
    assert "## Approval" in report and "comment: not during business hours" in report
    assert "mode=rollback" in report and "--mode" not in report  # a UI-phrased next step
    lines = _log_lines(paused.id)
    assert any(line.startswith("detect: ") for line in lines), lines
    assert any(line.startswith("plan: ") for line in lines), lines
    assert any("declined" in line and "not during business hours" in line for line in lines), lines
    assert not any("Traceback" in line for line in lines), lines


def test_approve_with_comment_records_it_and_logs_each_step(tmp_path: Path, db_url: str, prefect_harness,
                                                           info_logs) -> None:
    from prefect.flow_runs import resume_flow_run

    project = _sql_project(tmp_path, db_url)
    _fix_duplicates(db_url)
    runner, outcome = _run_in_thread(database_url=db_url, migrations_dir=str(project.migrations_dir),
                                     backup=False, drift=False, approval_timeout_seconds=60)
    paused = _paused_run()
    assert paused is not None
    resume_flow_run(paused.id, run_input={"approve": True, "comment": "ticket OPS-42"})
    runner.join(120)

    state = outcome["state"]
    assert state.is_completed(), state.message
    result = state.result()
    assert result["approval"]["approved"] is True and result["approval"]["comment"] == "ticket OPS-42"
    assert _unique_index_count(db_url) == 1
    lines = _log_lines(paused.id)
    for prefix in ("detect: ", "diagnose: ", "plan: ", "approval: approved", "execute: ok", "verify: ", "recover: recovered"):
        assert any(line.startswith(prefix) for line in lines), (prefix, lines)
    assert any("ticket OPS-42" in line for line in lines)


def test_pause_timeout_gives_up_without_changing_anything(tmp_path: Path, db_url: str, prefect_harness) -> None:
    from migration_guard.flows.recover import recover_flow

    project = _sql_project(tmp_path, db_url)
    _fix_duplicates(db_url)
    state = recover_flow(database_url=db_url, migrations_dir=str(project.migrations_dir), backup=False,
                         drift=False, approval_timeout_seconds=3, return_state=True)

    from prefect.artifacts import Artifact

    # Prefect itself fails a run whose pause timed out ("never resumed"); the report says why
    assert state.is_failed()
    assert _unique_index_count(db_url) == 0
    report = Artifact.get("recover-report").data
    assert "no approval within 3 s" in report and "declined by nobody (timed out)" in report

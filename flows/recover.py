"""The `recover` flow: a failed migration detected, diagnosed, explained, planned, approved,
backed up, recovered, recorded in the ledger, verified, reported and alerted on.

The sequence itself is ``tasks/recover/pipeline.run_recovery`` (the CLI runs the same one with
plain steps); this flow runs it with Prefect tasks (``tasks/recover/tasks.py``), publishes the
report as an artifact, and pauses for approval in the Prefect UI (``pause_flow_run`` with input,
the plan as an artifact) unless it was started with ``approve=True``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from migration_guard.blocks.resolve import resolve_settings
from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.project import Project
from migration_guard.tasks.recover.pipeline import RecoverOptions, run_recovery
from migration_guard.tasks.recover.model import RepairPlan
from migration_guard.tasks.recover.report import RecoveryReport

__all__ = ["RecoverOptions", "RecoveryFailed", "recover_flow", "run_recovery"]


class RecoveryFailed(MigrationGuardError):
    """Raised at the end of a flow run that did not recover (the report is in the artifact)."""


@flow(name="recover", log_prints=False)
def recover_flow(
    database_url: str | None = None,
    migrations_dir: str | None = None,
    migration_tool: str | None = None,
    database_block: str | None = None,
    project_block: str | None = None,
    mode: str = "auto",
    approve: bool = False,
    backup: bool = True,
    drift: bool = True,
    plan_only: bool = False,
    stale_lock_seconds: float = 60.0,
    approval_timeout_seconds: int = 3600,
) -> dict[str, Any]:
    """Recover a failed migration (finish it or undo it), fix the ledger, verify, report.

    Args:
        database_url: PostgreSQL URL; prefer database_block in deployments (parameters are stored).
        migrations_dir: the migrations folder (default MIGRATIONS_DIR).
        migration_tool: prisma or sql (default: detected from the folder).
        database_block: name of the PostgresDatabase block holding the connection.
        project_block: name of the MigrationProject block holding the project settings.
        mode: auto (forward only when safe), forward, or rollback.
        approve: run the plan without pausing for approval in the UI.
        backup: take a verified backup first (default True).
        drift: verify with a shadow-database drift check (default True).
        plan_only: stop after the plan (published as an artifact).
        stale_lock_seconds: an idle holder of the migration lock is stale after this long.
        approval_timeout_seconds: how long the run waits for approval before giving up.

    Returns:
        The report as a dict (also published as the ``recover-report`` markdown artifact).

    Raises:
        RecoveryFailed: not recovered (the artifact says why and what to do next).
    """
    from prefect.artifacts import create_markdown_artifact

    from migration_guard.tasks.recover.tasks import PREFECT_STEPS

    project = Project.from_settings(resolve_settings(
        database_block, project_block,
        database_url=database_url, migrations_dir=migrations_dir, migration_tool=migration_tool,
    ))
    options = RecoverOptions(mode=mode, backup=backup, plan_only=plan_only, drift=drift,
                             stale_lock_seconds=stale_lock_seconds)

    def approve_in_ui(plan: RepairPlan, report: RecoveryReport) -> bool:
        if approve:
            return True
        return _pause_for_approval(plan, report, approval_timeout_seconds)

    report = run_recovery(project, options, PREFECT_STEPS, approve_in_ui)
    create_markdown_artifact(report.markdown(), key="recover-report", description=f"recover: {report.outcome}")
    if report.exit_code != 0:
        raise RecoveryFailed(f"not recovered: {report.reason}", report.next_step)
    return report.to_dict()


def _pause_for_approval(plan: RepairPlan, report: RecoveryReport, timeout: int) -> bool:
    """Publish the plan, pause the run, and wait for an operator's answer in the UI."""
    from prefect.artifacts import create_markdown_artifact
    from prefect.flow_runs import pause_flow_run
    from prefect.input import RunInput

    class RecoveryApproval(RunInput):
        approve: bool = False
        comment: str = ""

    create_markdown_artifact(report.markdown(), key="recover-plan", description="plan awaiting approval")
    answer = pause_flow_run(wait_for_input=RecoveryApproval, timeout=timeout, key="recover-approval")
    return bool(answer.approve)

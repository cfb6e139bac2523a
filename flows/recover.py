"""The `recover` flow: a failed migration detected, diagnosed, explained, planned, approved,
backed up, recovered, recorded in the ledger, verified, reported and alerted on.

The sequence itself is ``tasks/recover/pipeline.run_recovery`` (the CLI runs the same one with
plain steps); this flow runs it with Prefect tasks (``tasks/recover/tasks.py``), publishes the
report as an artifact, and pauses for approval in the Prefect UI (``pause_flow_run`` with input,
the plan as an artifact) unless it was started with ``approve=True``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from prefect import flow
from prefect.input import RunInput
from pydantic import Field

from migration_guard.blocks.resolve import resolve_settings
from migration_guard.flows.prefect_api import expected_failure
from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.project import Project
from migration_guard.tasks.recover.pipeline import RecoverOptions, run_recovery
from migration_guard.tasks.recover.model import RepairPlan
from migration_guard.tasks.recover.report import RecoveryReport

__all__ = ["RecoverOptions", "RecoveryApproval", "RecoveryFailed", "recover_flow", "run_recovery"]


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
    backup_scope: str | None = None,
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
        backup_scope: what the pre-recovery backup holds: ``auto`` (scoped from 1 GiB), ``scoped`` (the
            whole schema + the data of the tables the failed migration touches) or ``full``
            (default BACKUP_SCOPE, else auto).

    Returns:
        The report as a dict (also published as the ``recover-report`` markdown artifact).

    Raises:
        RecoveryFailed: not recovered (the artifact says why and what to do next).
    """
    from prefect import get_run_logger
    from prefect.artifacts import create_markdown_artifact

    from migration_guard.tasks.recover.tasks import PREFECT_STEPS

    logger = get_run_logger()
    try:
        project = Project.from_settings(resolve_settings(
            database_block, project_block,
            database_url=database_url, migrations_dir=migrations_dir, migration_tool=migration_tool,
            backup_scope=backup_scope,
        ))
        options = RecoverOptions(mode=mode, backup=backup, plan_only=plan_only, drift=drift,
                                 stale_lock_seconds=stale_lock_seconds)
    except MigrationGuardError as exc:
        return expected_failure(exc, logger)
    logger.info("recover %s: mode=%s, backup=%s, drift check=%s%s", project.target, mode, backup, drift,
                ", plan only" if plan_only else "")
    answer: dict[str, Any] = {}

    def approve_in_ui(plan: RepairPlan, report: RecoveryReport) -> bool:
        log_plan(report, logger)
        if approve:
            logger.info("approval: approve=true was passed, running the plan without pausing")
            answer.update(approved=True, by="the approve=true parameter", comment="", at=_now())
            return True
        answer.update(_pause_for_approval(plan, report, approval_timeout_seconds, logger))
        return bool(answer["approved"])

    report = run_recovery(project, options, PREFECT_STEPS, approve_in_ui)
    if answer:
        report.approval = answer
        if not answer["approved"]:
            report.reason = answer["reason"]
    if report.next_step:
        report.next_step = ui_next_step(report.next_step)
    log_outcome(report, logger)
    create_markdown_artifact(report.markdown(), key="recover-report", description=f"recover: {report.outcome}")
    if report.exit_code != 0:
        return expected_failure(RecoveryFailed(f"not recovered: {report.reason}", report.next_step), logger)
    return report.to_dict()


class RecoveryApproval(RunInput):
    """The Resume form of a paused recover run (each field's description is shown in the UI)."""

    approve: bool = Field(default=False, title="Approve",
                          description="approve: run the plan above (leave off to decline; nothing is changed)")
    comment: str = Field(default="", title="Comment",
                         description="comment: recorded in the report and the run's logs")


#: CLI spellings in next steps, and how a UI user says the same thing (deployment parameters)
_UI_PHRASES = (
    ("re-run migration-guard recover", "run the recover deployment again (Run > Custom run)"),
    ("migration-guard recover --mode rollback", "the recover deployment with parameter mode=rollback"),
    ("migration-guard recover --mode forward", "the recover deployment with parameter mode=forward"),
    ("migration-guard recover", "the recover deployment (Run > Custom run)"),
    ("--mode rollback", "parameter mode=rollback"),
    ("--mode forward", "parameter mode=forward"),
    ("run without --plan", "run again with parameter plan_only=false"),
    ("--no-backup", "parameter backup=false"),
    ("--no-drift", "parameter drift=false"),
)


def ui_next_step(text: str) -> str:
    """A next step phrased for the Prefect UI: CLI options become the recover deployment's parameters
    (``--mode rollback`` -> ``mode=rollback``); anything else is kept as it is."""
    for cli, ui in _UI_PHRASES:
        text = text.replace(cli, ui)
    return text


def awaiting_approval_markdown(report: RecoveryReport, timeout: int) -> str:
    """The plan artifact of a paused run: headed "Awaiting approval", saying how to answer."""
    body = report.markdown().split("\n", 1)[1]  # the report's own heading says "NOT recovered"
    deadline = (datetime.now(timezone.utc) + timedelta(seconds=timeout)).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        f"# Awaiting approval: recover `{report.migration or report.database}`",
        "",
        "Nothing has been changed yet. Read the plan below, then press **Resume** on this run:",
        "",
        "- **approve** on: run the plan (a verified backup is taken first unless backup=false);",
        "- **approve** off: decline; nothing is changed and the run ends Failed (\"plan declined\");",
        "- **comment**: recorded in the report and the run's logs.",
        "",
        f"Without an answer by {deadline} (approval_timeout_seconds={timeout}) the run gives up the same way: "
        "nothing is changed, the run ends Failed.",
        "",
    ]) + body


def log_plan(report: RecoveryReport, logger: Any) -> None:
    """Domain log lines for detection, diagnosis, cause and plan (the run's Logs tab)."""
    for finding in report.findings:
        logger.info("detect: %s", finding)
    if report.diagnosis is not None:
        logger.info("diagnose: %s", report.diagnosis.summary)
    if report.cause is not None:
        logger.info("cause: %s", report.cause.describe().splitlines()[0] if report.cause.describe() else "")
    if report.plan is not None:
        for line in report.plan.render().splitlines():
            logger.info("plan: %s", line)


def log_outcome(report: RecoveryReport, logger: Any) -> None:
    """Domain log lines for approval, backup, execution, verification and the outcome."""
    approval = getattr(report, "approval", None)
    if approval:
        logger.info("approval: %s by %s at %s%s", "approved" if approval["approved"] else "declined",
                    approval["by"], approval["at"],
                    f"; comment: {approval['comment']}" if approval.get("comment") else "")
    if report.backup is not None:
        logger.info("backup: %s (verified: %s)", report.backup.get("path"), report.backup.get("verified"))
    if report.execution is not None:
        logger.info("execute: %s", "ok" if report.execution.get("ok") else f"failed: {report.execution.get('error')}")
    if report.verification is not None:
        logger.info("verify: ok=%s, status %s", report.verification["ok"], report.verification["status"])
    if report.exit_code == 0:  # a failure is the run's one ERROR line (expected_failure)
        logger.info("recover: %s%s", report.outcome, f" — next: {report.next_step}" if report.next_step else "")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _pause_for_approval(plan: RepairPlan, report: RecoveryReport, timeout: int, logger: Any) -> dict[str, Any]:
    """Publish the plan headed "Awaiting approval", pause the run, and wait for the operator.

    Returns the approval record: approved, comment, by (Prefect OSS does not say who resumed),
    at, and the decline reason (declined, or no answer within ``timeout`` seconds)."""
    from prefect.artifacts import create_markdown_artifact
    from prefect.exceptions import FlowPauseTimeout
    from prefect.flow_runs import pause_flow_run

    create_markdown_artifact(awaiting_approval_markdown(report, timeout), key="recover-plan",
                             description="Awaiting approval: the recovery plan")
    logger.info("approval: waiting up to %d s — open this run and press Resume (approve: run the plan above)",
                timeout)
    try:
        answer = pause_flow_run(wait_for_input=RecoveryApproval, timeout=timeout, key="recover-approval")
    except FlowPauseTimeout:
        logger.warning("approval: no answer within %d s; nothing was changed", timeout)
        return {"approved": False, "comment": "", "by": None, "at": _now(),
                "reason": f"no approval within {timeout} s (approval_timeout_seconds); nothing was changed"}
    comment = (answer.comment or "").strip()
    record = {"approved": bool(answer.approve), "comment": comment, "by": "the Resume form (Prefect does not record who)",
              "at": _now()}
    if not answer.approve:
        record["reason"] = "the plan was declined in the Resume form" + (f": {comment}" if comment else "") + \
            "; nothing was changed"
    return record

"""The `recover` flow: a failed migration detected, backed up, diagnosed, explained, planned,
approved, repaired, recorded in the ledger, verified and reported.

``run_recovery`` is the pipeline; it takes its I/O steps as an argument so the CLI runs it with
plain functions (no Prefect start-up) and the flow runs it with Prefect tasks. The flow pauses for
approval in the Prefect UI (``pause_flow_run`` with input, the plan as an artifact) unless it was
started with ``approve=True``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prefect import flow

from migration_guard.blocks.resolve import resolve_settings
from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.project import Project
from migration_guard.tasks.repair.plan import MODES, RepairPlan, choose_plan, debris_steps
from migration_guard.tasks.repair.report import RecoveryReport
from migration_guard.tasks.repair.steps import RecoverSteps

Approver = Callable[[RepairPlan, RecoveryReport], bool]


class RecoveryFailed(MigrationGuardError):
    """Raised at the end of a flow run that did not recover (the report is in the artifact)."""


@dataclass(frozen=True)
class RecoverOptions:
    """How to recover.

    Attributes:
        mode: auto | forward | rollback.
        backup: take a verified backup before any change (opt out only explicitly).
        plan_only: stop after printing the plan.
        drift: verify with a shadow-database drift check.
        stale_lock_seconds: an idle holder of the migration lock is stale after this long.
        lock_age_seconds: transactions older than this holding locks on the tables count as blockers.
    """

    mode: str = "auto"
    backup: bool = True
    plan_only: bool = False
    drift: bool = True
    stale_lock_seconds: float = 60.0
    lock_age_seconds: float = 1.0


def run_recovery(project: Project, options: RecoverOptions, steps: RecoverSteps, approve: Approver) -> RecoveryReport:
    """Detect → diagnose → explain → plan → approve → backup → execute → ledger → verify → report.

    The verified backup is taken right before the first change (after approval), so a run that
    stops at the plan costs no dump; a rollback that needs a restore names the newest backup
    taken before the failed attempt (safe-migrate's pre-migrate backup).
    """
    if options.mode not in MODES:
        from migration_guard.tasks.errors import ConfigError

        raise ConfigError(f"--mode must be one of {', '.join(MODES)}, got {options.mode!r}")
    started = time.perf_counter()
    report = RecoveryReport(outcome="not_recovered", database=project.target)
    clock = time.perf_counter()
    detection = steps.detect(project, options.stale_lock_seconds)
    report.timings["detect"] = time.perf_counter() - clock
    report.findings = detection.lines()
    if detection.nothing_to_do:
        report.outcome = "nothing_to_do"
        report.reason = "no failed migration, no INVALID index, no stale migration lock"
        return _finish(report, started)
    target = detection.target
    report.migration = target.name if target else None
    if detection.busy_lock_holders:
        report.reason = "a migration is running now: " + "; ".join(h.describe() for h in detection.busy_lock_holders)
        report.next_step = "wait for it to finish, then re-run migration-guard recover"
        return _finish(report, started)
    if target is not None and target.migration is None:
        report.reason = f"the failed migration {target.name} has no local file, so what it did cannot be diagnosed"
        report.next_step = (f"restore it from version control (git log --all -- '*{target.name}*', then git checkout "
                            "<commit> -- <path>) and re-run migration-guard recover")
        return _finish(report, started)
    if len(detection.failed) > 1:
        report.warnings.append("more failed migrations after this one: " + ", ".join(s.name for s in detection.failed[1:])
                               + "; run recover again after this one")
    clock = time.perf_counter()
    plan = _plan(project, options, steps, detection, target, report)
    report.plan = plan
    report.timings["diagnose"] = time.perf_counter() - clock
    if not plan.runnable:
        report.reason = plan.blocked_reason
        report.next_step = plan.next_step
        return _finish(report, started)
    if options.plan_only:
        report.outcome = "planned"
        report.next_step = "run without --plan to apply it"
        return _finish(report, started)
    if not approve(plan, report):
        report.outcome = "declined"
        report.reason = "the plan was not approved"
        report.next_step = "re-run migration-guard recover when ready (or --mode rollback)"
        return _finish(report, started)
    if options.backup:
        clock = time.perf_counter()
        applied = [s.name for s in detection.report.statuses if s.state.value == "applied"]
        report.backup = steps.backup(project, applied[-1] if applied else None)
        report.timings["backup"] = time.perf_counter() - clock
    else:
        report.warnings.append("no backup taken (--no-backup)")
    clock = time.perf_counter()
    execution = steps.execute(project, plan, target, detection.stale_lock_holders)
    report.execution = execution.to_dict()
    report.timings["repair"] = time.perf_counter() - clock
    if not execution.ok:
        report.reason = f"the plan failed and was rolled back where possible: {execution.error}"
        report.next_step = execution.suggestion or "inspect the error, then re-run migration-guard recover"
        if report.backup:
            report.next_step += f" (backup: {report.backup.get('path')})"
        return _finish(report, started)
    clock = time.perf_counter()
    verification = steps.verify(project, target.name if target else None, plan.ledger_action, options.drift)
    report.verification = verification.to_dict()
    report.timings["verify"] = time.perf_counter() - clock
    if verification.ok:
        report.outcome = "recovered"
        if verification.pending:
            report.next_step = ("apply the pending migrations: migration-guard migrate (or prisma migrate deploy): "
                                + ", ".join(verification.pending))
    else:
        report.reason = "verification failed: " + "; ".join(verification.problems)
        report.next_step = "compare the live schema with the migrations (see the differences above) and fix by hand"
    return _finish(report, started)


def _plan(project, options, steps, detection, target, report) -> RepairPlan:
    covered: set[str] = set()
    if target is not None:
        diagnosis, cause = steps.diagnose(project, target, options.lock_age_seconds)
        report.diagnosis, report.cause = diagnosis, cause
        plan = choose_plan(diagnosis, cause, options.mode, schema=project.schema,
                           backup_path=_backup_before(project, target))
        covered = {s.invalid_index for s in diagnosis.statements if s.invalid_index}
        failed = target.failed_entries
        if failed and target.migration is not None and not target.migration.matches_checksum(failed[-1].checksum):
            plan.warnings.append("the migration file changed after the failed attempt (checksum differs); the "
                                 "diagnosis reads the current file and the ledger will record its checksum")
        if len(failed) > 1:
            plan.warnings.append(f"{len(failed)} failed rows for this migration; the ledger fix resolves all of them")
    else:
        plan = RepairPlan("cleanup")
    plan.steps[:0] = debris_steps(detection.invalid_indexes, detection.unvalidated, covered)
    plan.terminate = [h.describe() for h in detection.stale_lock_holders]
    return plan


def _backup_before(project: Project, target) -> str | None:
    """The newest backup taken before the failed attempt started (what a restore should use)."""
    from migration_guard.tasks.backup import list_backups

    started = min((e.started_at for e in target.failed_entries), default=None)
    for info in list_backups(project.settings.backup_dir):
        if started is None or info.created_at <= started:
            return str(info.path)
    return None


def _finish(report: RecoveryReport, started: float) -> RecoveryReport:
    report.timings["total"] = time.perf_counter() - started
    return report


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
        database_url / migrations_dir / migration_tool / database_block / project_block: where
            (see the status flow).
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

    from migration_guard.tasks.recover_tasks import PREFECT_STEPS

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
    data = report.to_dict()
    create_markdown_artifact(report.markdown(), key="recover-report", description=f"recover: {report.outcome}")
    if not plan_only:
        data["alerts"] = PREFECT_STEPS.alert(project, data)
    if report.exit_code != 0:
        raise RecoveryFailed(f"not recovered: {report.reason}", report.next_step)
    return data


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

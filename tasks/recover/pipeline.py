"""The recovery sequence: detect → diagnose → explain → plan → approve → backup → execute →
ledger → verify → report → alert, written once. Plain Python (no Prefect import, so the CLI
starts fast); its I/O steps come in as an argument: ``steps.PLAIN_STEPS`` for the CLI,
``tasks.PREFECT_STEPS`` for the ``recover`` flow (which adds artifacts and approval in the UI).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from migration_guard.tasks.catalog import DatabaseIdentity, database_identity
from migration_guard.tasks.db import connection
from migration_guard.tasks.errors import ConfigError, MigrationGuardError
from migration_guard.tasks.models import MigrationStatus
from migration_guard.tasks.project import Project
from migration_guard.tasks.recover.detect import Detection
from migration_guard.tasks.recover.model import RepairPlan
from migration_guard.tasks.recover.plan import MODES, choose_plan
from migration_guard.tasks.recover.redo import debris_steps
from migration_guard.tasks.recover.report import RecoveryReport
from migration_guard.tasks.recover.steps import RecoverSteps

#: asked with the plan (and the report so far) before anything changes; True runs the plan
Approver = Callable[[RepairPlan, RecoveryReport], bool]


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

    Raises:
        ConfigError: ``mode`` is not one of :data:`~migration_guard.tasks.recover.plan.MODES`.
    """

    mode: str = "auto"
    backup: bool = True
    plan_only: bool = False
    drift: bool = True
    stale_lock_seconds: float = 60.0
    lock_age_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"--mode must be one of {', '.join(MODES)}, got {self.mode!r}")


def run_recovery(project: Project, options: RecoverOptions, steps: RecoverSteps, approve: Approver) -> RecoveryReport:
    """Detect → diagnose → explain → plan → approve → backup → execute → ledger → verify → report
    → alert: the one recovery sequence, run by the CLI (plain steps) and the flow (Prefect tasks).

    The verified backup is taken right before the first change (after approval), so a run that
    stops at the plan costs no dump; a rollback that needs a restore names the newest backup
    taken before the failed attempt (safe-migrate's pre-migrate backup). Unless the run only
    plans, the alert is raised (not recovered) or resolved (recovered, nothing to do) last; what
    was done is ``report.alerts``.

    Args:
        project: the project to recover.
        options: how to recover.
        steps: the I/O steps (``steps.PLAIN_STEPS`` or ``tasks.PREFECT_STEPS``).
        approve: asked with the plan before anything changes.

    Returns:
        The report (``report.exit_code`` is the CLI's exit code).
    """
    report = _recover(project, options, steps, approve)
    if not options.plan_only:
        report.alerts = steps.alert(project, report.to_dict())
    return report


def _recover(project: Project, options: RecoverOptions, steps: RecoverSteps, approve: Approver) -> RecoveryReport:
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
        report.backup = steps.backup(project, detection.report.last_applied)
        report.timings["backup"] = time.perf_counter() - clock
    else:
        report.warnings.append("no backup taken (--no-backup)")
    clock = time.perf_counter()
    execution = steps.execute(project, plan, target, detection.stale_lock_holders)
    report.execution = execution.to_dict()
    report.timings["repair"] = time.perf_counter() - clock  # the plan's execution (a stable JSON key)
    if not execution.ok:
        report.reason = f"the plan failed and was rolled back where possible: {execution.error}"
        report.next_step = execution.suggestion or "inspect the error, then re-run migration-guard recover"
        if (execution.sqlstate or "")[:2] in ("22", "23"):  # the data, not the statement's text
            report.next_step = (f"the data blocks it (SQLSTATE {execution.sqlstate}): fix the rows the error names "
                                "(re-run migration-guard recover --plan to see what is left to do), or undo what "
                                "ran with migration-guard recover --mode rollback --yes")
        if report.backup:
            report.next_step += f" (backup: {report.backup.get('path')})"
        return _finish(report, started)
    clock = time.perf_counter()
    try:
        verification = steps.verify(project, target.name if target else None, plan.ledger_action, options.drift)
    except (MigrationGuardError, psycopg.Error) as exc:  # e.g. the server restarted during the drift check
        report.timings["verify"] = time.perf_counter() - clock
        report.outcome = "recovered_unverified"
        report.reason = ("the repair and the ledger fix committed, but verification could not finish: "
                         + (exc.message if isinstance(exc, MigrationGuardError) else str(exc).splitlines()[0]))
        report.next_step = "re-run the verification: migration-guard status   then: migration-guard recover --plan"
        return _finish(report, started)
    report.verification = verification.to_dict()
    report.timings["verify"] = time.perf_counter() - clock
    if verification.ok:
        report.outcome = "recovered"
        if verification.pending:
            report.next_step = ("apply the pending migrations: migration-guard migrate (or prisma migrate deploy): "
                                + ", ".join(verification.pending))
            cause = report.cause
            if report.plan is not None and report.plan.direction == "rollback" and cause is not None \
                    and cause.present and cause.offending_rows:
                # rolled back, but what made it fail is still in the data: migrating now fails the same way
                listing = f" (list them: {cause.listing_query})" if cause.listing_query else ""
                report.next_step = (f"first fix the {cause.offending_rows} row(s) that made it fail{listing}, "
                                    f"or change the migration; then " + report.next_step)
    else:
        report.reason = "verification failed: " + "; ".join(verification.problems)
        report.next_step = "compare the live schema with the migrations (see the differences above) and fix by hand"
    return _finish(report, started)


def _plan(project: Project, options: RecoverOptions, steps: RecoverSteps, detection: Detection,
          target: MigrationStatus | None, report: RecoveryReport) -> RepairPlan:
    covered: set[str] = set()
    if target is not None:
        diagnosis, cause = steps.diagnose(project, target, options.lock_age_seconds)
        report.diagnosis, report.cause = diagnosis, cause
        backup_path, backup_note = backup_before(project, target)
        plan = choose_plan(diagnosis, cause, options.mode, schema=project.schema, backup_path=backup_path,
                           backup_note=backup_note)
        if options.mode == "rollback" and plan.irreversible:
            before, note = steps.earlier_schema(project, target)
            if before is not None:
                plan = choose_plan(diagnosis, cause, options.mode, schema=project.schema, backup_path=backup_path,
                                   before=before, backup_note=backup_note)
            plan.warnings.append(note)
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


def backup_before(project: Project, target: MigrationStatus) -> tuple[str | None, str]:
    """(path, note): the newest backup OF THIS DATABASE taken before the failed attempt started, or
    (None, why none fits). A backup matches when its metadata's source (host:port/dbname) and
    database name are this project's; backups of other databases in the same folder never do.
    """
    from migration_guard.tasks.backup import list_backups

    started = min((e.started_at for e in target.failed_entries), default=None)
    database = project.target.rsplit("/", 1)[-1]
    identity = _identity(project)
    others = 0
    for info in list_backups(project.settings.backup_dir):
        if info.target != project.target or info.database != database or not _same_identity(info, identity):
            others += 1
            continue
        if started is None or info.created_at <= started:
            return str(info.path), ""
    where = f" in {project.settings.backup_dir}"
    if others:
        where += f" ({others} backup(s) there are of other databases)"
    return None, where


def _identity(project: Project) -> DatabaseIdentity | None:
    try:
        with connection(project.dsn, connect_timeout=project.settings.connect_timeout) as conn:
            return database_identity(conn)
    except MigrationGuardError:
        return None


def _same_identity(info: Any, identity: DatabaseIdentity | None) -> bool:
    """The backup's recorded server and database are this one's (a field either side lacks, e.g. a
    backup from before they were recorded, does not disqualify it: the address already matched)."""
    if identity is None:
        return True
    if info.system_identifier and identity.system_identifier and info.system_identifier != identity.system_identifier:
        return False
    return not (info.database_oid and info.database_oid != identity.database_oid)


def _finish(report: RecoveryReport, started: float) -> RecoveryReport:
    report.timings["total"] = time.perf_counter() - started
    return report

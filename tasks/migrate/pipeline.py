"""The safe-migrate sequence, written once against its steps port (``tasks/migrate/steps.py``):
the CLI runs it with the plain steps, the Prefect flow with the same steps as tasks
(``tasks/migrate/tasks.py``).

validate -> backup (verified) -> lock + apply -> post-migrate hooks -> start-up check -> verify.
A failure stops the sequence and the report says what the database holds and what to run next.
Nothing here raises for an operational failure: the report carries it (``report.ok``).
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

from migration_guard.tasks.backup import BackupError
from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.migrate.apply import MigrationApplyError
from migration_guard.tasks.migrate.execute import LockRetryExhausted
from migration_guard.tasks.migrate.lock import MigrationLockError
from migration_guard.tasks.migrate.options import SafeMigrateOptions
from migration_guard.tasks.migrate.policy import (
    LINT_CHECK,
    acknowledged_findings,
    blocking_checks,
    needed_acknowledgements,
)
from migration_guard.tasks.migrate.recovery import add_recovery_advice
from migration_guard.tasks.migrate.report import SafeMigrateReport, trigger_with_allow
from migration_guard.tasks.migrate.steps import PLAIN_STEPS, SafeMigrateSteps
from migration_guard.tasks.project import Project
from migration_guard.tasks.validate.checks import backup as backup_check
from migration_guard.tasks.validate.model import CheckStatus
from migration_guard.tasks.status.pipeline import last_applied_migration
from migration_guard.tasks.secrets import passwords_in, redact

_log = logging.getLogger("migration_guard.migrate")

#: the backup's ``reason`` (in its metadata and file name)
BACKUP_REASON = "pre-migrate"


def run_safe_migrate(project: Project, options: SafeMigrateOptions, steps: SafeMigrateSteps | None = None,
                     logger: Any | None = None) -> SafeMigrateReport:
    """Validate, back up, apply under the lock, run hooks and the start-up check, verify.

    Args:
        project: the database and its migrations.
        options: what to run and with which limits.
        steps: how each step executes (default: ``PLAIN_STEPS``, direct calls).
        logger: where progress goes (default: the ``migration_guard.migrate`` logger).

    Returns:
        The report; ``report.ok`` is False when a step failed (the report says which, and what to do).

    Never raises for an operational failure (the report carries it); configuration errors raise.
    """
    steps = steps or PLAIN_STEPS
    log = logger or _log
    report = SafeMigrateReport(project.target, project.ledger.tool)
    secrets = passwords_in(project.dsn)

    def fail(stage: str, error: MigrationGuardError | str, suggestion: str = "") -> SafeMigrateReport:
        report.failed_stage = stage
        report.error = redact(error.message if isinstance(error, MigrationGuardError) else error, secrets)
        report.suggestion = redact(error.suggestion if isinstance(error, MigrationGuardError) else suggestion, secrets)
        report.error_category = str(getattr(error, "category", "DATABASE_MIGRATION"))
        log.error("safe-migrate failed at %s: %s", stage, report.error)
        add_recovery_advice(report, project, error)
        return report

    # 1. validate
    if options.validate:
        with _timed(report, "validate"):
            try:
                report.validation = steps.validate(project, options)
            except MigrationGuardError as exc:
                return fail("validate", exc)
        allow = frozenset(options.allow)
        blocking, ignored = blocking_checks(report.validation, project, allow)
        report.ignored_checks = ignored
        report.acknowledged = acknowledged_findings(report.validation, allow)
        for line in ignored:
            log.warning("validation: %s", line)
        for finding in report.acknowledged:
            log.warning("acknowledged %s at %s (%s)", finding["rule"], finding["location"], finding["by"])
        if blocking:
            if any(c["name"] == LINT_CHECK for c in blocking):
                report.acknowledgements = needed_acknowledgements(report.validation, allow)
            _backup_row(report, backup_check.skipped_result(
                "not taken: migrate stopped at validation" if options.backup else "not taken (migrate --skip-backup)"))
            fixes = "; ".join(_fix_of(c, report) for c in blocking if c.get("fix"))
            return fail("validate", "validation failed: " + "; ".join(f"{c['name']}: {c['reason']}" for c in blocking),
                        fixes or "see the validation report")
    # 2. backup (the validation table's backup row says what this stage did, not "switched off");
    # none when there is nothing to apply: it would protect nothing and cost a dump
    nothing_pending = options.backup and not _pending(project, steps)
    if not options.backup:
        _backup_row(report, backup_check.skipped_result("not taken (migrate --skip-backup)"))
    elif nothing_pending:
        _backup_row(report, backup_check.skipped_result("not taken: no pending migrations"))
        log.info("no pending migrations: no backup needed")
    if options.backup and not nothing_pending:
        with _timed(report, "backup"):
            try:
                info = steps.create_backup(project.dsn, Path(project.settings.backup_dir), BACKUP_REASON,
                                           last_applied_migration(project), steps.backup_scope(project, options))
                verified = steps.verify_backup(info.path, options.restore_check, project.dsn)
            except MigrationGuardError as exc:
                _backup_row(report, backup_check.failed_result(exc) if isinstance(exc, BackupError) else
                            backup_check.CHECK.result(CheckStatus.FAIL, redact(exc.message, secrets)))
                return fail("backup", exc)
            report.backup = {**info.to_dict(), "verified": verified.ok, "verify_level": verified.level}
            _backup_row(report, backup_check.backup_result(info, verified), report.backup)
        log.info("backup %s verified", report.backup_path)
    # 3-4. lock + apply
    with _timed(report, "apply"):
        try:
            applied = steps.apply(project, options.apply)
        except MigrationApplyError as exc:
            partial = getattr(exc, "report", None)
            report.apply = partial.to_dict() if partial is not None else {"applied": [], "migrations": [exc.outcome.to_dict()]}
            report.committed = bool(report.applied)
            fail("apply", exc)
            _name_the_blockers(report, exc)
            return report
        except MigrationLockError as exc:
            return fail("lock", exc)
        except MigrationGuardError as exc:
            partial = getattr(exc, "report", None)  # e.g. the lock session died between migrations
            if partial is not None:
                report.apply = partial.to_dict()
                report.committed = bool(report.applied)
            return fail("apply", exc)
    report.apply = applied.to_dict()
    report.committed = bool(applied.applied)
    # 5. hooks
    if options.hooks:
        with _timed(report, "hooks"):
            results = steps.hooks(options.hooks, options.hook_timeout_s, options.cwd)
        report.hooks = [_redacted(r.to_dict(), secrets) for r in results]
        failed = next((r for r in results if not r.ok), None)
        if failed is not None:
            return _after_commit_failure(report, project, options, steps, fail, "hooks",
                                         f"post-migrate hook `{failed.name}` failed: {failed.error}")
    # 6. start-up check
    if options.startup_check:
        with _timed(report, "startup-check"):
            try:
                result = steps.startup_check(options.startup_check_command, options.startup_check_url,
                                             options.startup_check_timeout_s, options.cwd)
            except MigrationGuardError as exc:
                return fail("startup-check", exc)
        if result is not None:
            report.startup_check = _redacted(result.to_dict(), secrets)
            if not result.ok:
                return _after_commit_failure(report, project, options, steps, fail, "startup-check",
                                             f"the application start-up check `{result.name}` failed: {result.error}")
    # 7. verify
    with _timed(report, "verify"):
        try:
            report.verify = steps.verify(project, options.validate_constraints, options.apply)
        except MigrationGuardError as exc:
            return fail("verify", exc)
    if not report.verify.get("ok", False):
        details = report.verify.get("problems", []) + report.verify.get("invalid_indexes", []) + \
            report.verify.get("constraint_validation_failures", [])
        return _after_commit_failure(report, project, options, steps, fail, "verify",
                                     "verification failed: " + "; ".join(details))
    report.ok = True
    log.info("safe-migrate: %s", report.summary)
    return report


def _name_the_blockers(report: SafeMigrateReport, exc: MigrationApplyError) -> None:
    """When the lock_timeout retries ran out, the first recovery step names the blocking pids and
    the exact ``pg_terminate_backend`` to run (then re-run migrate)."""
    cause = exc.cause
    if not isinstance(cause, LockRetryExhausted):
        return
    blockers = sorted({b for wait in cause.lock_waits for b in wait.blockers})
    pids = sorted({int(m.group(1)) for b in blockers for m in [re.match(r"pid (\d+)", b)] if m})
    if not pids:
        return
    changed = "nothing of this migration was applied" if cause.rolled_back else \
        f"its first {cause.steps_done} statement(s) stay applied and re-running resumes it"
    ends = " ".join(f"SELECT pg_terminate_backend({pid});" for pid in pids)
    report.recovery.insert(0, f"the retry budget ran out behind {'; '.join(blockers)} ({changed}); end the blocker(s) "
                              f"or wait for them, then re-run migration-guard migrate. To end them: {ends}")


def _backup_row(report: SafeMigrateReport, result: Any, backup: dict[str, Any] | None = None) -> None:
    """Put the backup stage's outcome in the validation report's ``backup`` row (the suite ran
    without its own backup: safe-migrate takes it after validation), so the two never disagree."""
    validation = report.validation
    if not validation or not validation.get("checks"):
        return
    row = result.to_dict()
    checks = [row if c.get("name") == row["name"] else c for c in validation["checks"]]
    if all(c.get("name") != row["name"] for c in validation["checks"]):
        checks.append(row)
    counts = {status: sum(1 for c in checks if c.get("status") == status) for status in validation.get("counts", {})}
    report.validation = {**validation, "checks": checks, **({"counts": counts} if counts else {}),
                         **({"backup": backup} if backup is not None else {})}


def _pending(project: Project, steps: SafeMigrateSteps) -> bool:
    """True when a migration is pending — or when that cannot be read (then the backup is taken)."""
    try:
        return bool(steps.pending(project))
    except MigrationGuardError:
        return True


def _fix_of(check: dict[str, Any], report: SafeMigrateReport) -> str:
    """A blocking check's fix; for lint with destructive changes to acknowledge, how to acknowledge
    them and the command to re-run (the comments themselves are in ``report.acknowledgements``)."""
    if check["name"] != LINT_CHECK or not report.acknowledgements:
        return check["fix"]
    rules = ",".join(sorted({a["rule"] for a in report.acknowledgements}))
    return (f"{len(report.acknowledgements)} destructive change(s) need an acknowledgement: put the comment shown for "
            f"each directly above its statement and re-run migration-guard migrate; or acknowledge them for this run "
            f"only: migration-guard migrate --allow {rules}; through the safe-migrate deployment: "
            f"{trigger_with_allow(report.acknowledgements)}")


def _after_commit_failure(report: SafeMigrateReport, project: Project, options: SafeMigrateOptions,
                          steps: SafeMigrateSteps, fail: Any, stage: str, message: str) -> SafeMigrateReport:
    """Hooks, start-up check or verification failed after migrations were committed."""
    fail(stage, message, "the migrations are applied; choose a rollback below (or fix forward)")
    if options.on_failure == "restore":
        if report.backup_path is None:
            report.rollback_choices.insert(0, "--on-failure=restore was asked, but no backup was taken in this run")
        else:
            try:
                report.restored = steps.restore(project, report.backup_path)
                report.recovery.insert(0, f"restored the pre-migrate backup {report.backup_path} over {project.target}")
            except MigrationGuardError as exc:
                report.restored = {"error": exc.message}
                report.recovery.insert(0, f"restoring {report.backup_path} FAILED: {exc.message}")
    return report


class _timed:
    """Record how long a stage took in ``report.timings`` (also when it raises)."""

    def __init__(self, report: SafeMigrateReport, stage: str) -> None:
        self.report, self.stage = report, stage

    def __enter__(self) -> None:
        self.started = time.monotonic()

    def __exit__(self, *exc: Any) -> None:
        self.report.timings[self.stage] = round(time.monotonic() - self.started, 3)


def _redacted(data: dict[str, Any], secrets: list[str]) -> dict[str, Any]:
    return {k: redact(v, secrets) if isinstance(v, str) else v for k, v in data.items()}

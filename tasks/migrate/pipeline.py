"""The safe-migrate sequence and its decisions, independent of how each step executes: the CLI
runs the steps directly, the Prefect flow runs them as tasks (``tasks/migrate/tasks.py``).

validate -> backup (verified) -> lock + apply -> post-migrate hooks -> start-up check -> verify.
A failure stops the sequence and the report says what the database holds and what to run next.
Nothing here raises for an operational failure: the report carries it (``report.ok``).
"""

from __future__ import annotations

import logging
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.migrate.apply import (
    ApplyOptions,
    ApplyReport,
    MigrationApplyError,
    apply_pending,
    is_resumable,
    prepare_migration,
)
from migration_guard.tasks.migrate.hooks import HookResult, run_hooks, startup_check
from migration_guard.tasks.migrate.lock import MigrationLockError
from migration_guard.tasks.project import Project, read_ledger, read_migrations
from migration_guard.tasks.secrets import passwords_in, redact

_log = logging.getLogger("migration_guard.migrate")

#: validation checks that do not stop safe-migrate, and why
_HANDLED_BY_MIGRATE = {
    "advisory-lock": "the migration lock is waited for (bounded) by the apply step, which names the holder",
}
#: lint rules whose danger safe-migrate removes by how it applies
_HANDLED_LINT_RULES = {
    "concurrently-in-transaction": "safe-migrate runs such statements one by one outside a transaction",
    "transaction-control": "safe-migrate manages the transaction itself and ignores BEGIN/COMMIT in the file",
}


@dataclass
class SafeMigrateOptions:
    """Switches and limits of one safe-migrate run."""

    apply: ApplyOptions = field(default_factory=ApplyOptions)
    validate: bool = True
    backup: bool = True
    strict: bool = False
    restore_check: bool = False
    on_failure: str = "report"  # "report" | "restore"
    hooks: list[list[str]] = field(default_factory=list)
    hook_timeout_s: float = 300.0
    startup_command: str | None = None
    startup_url: str | None = None
    startup_timeout_s: float = 60.0
    validate_constraints: bool = False
    cwd: Path | None = None


def validate_directly(project: Project, options: SafeMigrateOptions) -> dict[str, Any]:
    """The validate checks (without their backup: safe-migrate takes its own), as a dict."""
    try:
        from migration_guard.tasks.validate import ValidationContext, ValidationOptions, run_validation
    except ImportError:
        return {"ok": True, "unavailable": "validation is not installed; checks skipped", "checks": []}
    report = run_validation(ValidationContext(project, ValidationOptions(backup=False, strict=options.strict)))
    return report.to_dict()


def backup_directly(project: Project, migration_head: str | None, options: SafeMigrateOptions) -> dict[str, Any]:
    """pg_dump the database, verify the dump; the backup's metadata as a dict."""
    from migration_guard.tasks.backup import create_backup, verify_backup

    info = create_backup(project.dsn, Path(project.settings.backup_dir), reason="pre-migrate", migration_head=migration_head)
    verified = verify_backup(info.path, restore_check=options.restore_check, dsn=project.dsn)
    return {**info.to_dict(), "verified": verified.ok, "verify_level": verified.level}


def verify_directly(project: Project, validate_constraints: bool, apply_options: ApplyOptions) -> dict[str, Any]:
    """Status clean, no INVALID index, NOT VALID constraints validated when asked."""
    from psycopg import sql

    from migration_guard.tasks.catalog import invalid_indexes, not_valid_constraints
    from migration_guard.tasks.db import connection
    from migration_guard.tasks.migrate.execute import StatementFailed, run_statements
    from migration_guard.tasks.project import read_status

    status = read_status(project)
    problems = [f"{s.name}: {s.state.value}" for s in (*status.problems, *status.pending)]
    validated, failed_validation = [], []
    with connection(project.dsn, connect_timeout=project.settings.connect_timeout) as conn:
        invalid = [f"{i.schema}.{i.name} on {i.table}" for i in invalid_indexes(conn)]
        pending_constraints = not_valid_constraints(conn)
        if validate_constraints:
            for c in pending_constraints:
                statement = sql.SQL("ALTER TABLE {}.{} VALIDATE CONSTRAINT {}").format(
                    sql.Identifier(c.schema), sql.Identifier(c.table), sql.Identifier(c.name)).as_string(conn)
                try:
                    run_statements(conn, [statement], lock_timeout=apply_options.lock_timeout,
                                   statement_timeout=apply_options.statement_timeout, transactional=True,
                                   retry_budget_s=apply_options.retry_budget_s)
                    validated.append(f"{c.schema}.{c.table}.{c.name}")
                except StatementFailed as exc:
                    failed_validation.append(f"{c.schema}.{c.table}.{c.name}: {exc.message}")
            pending_constraints = not_valid_constraints(conn)
    not_valid = [f"{c.schema}.{c.table}.{c.name}" for c in pending_constraints]
    return {
        "ok": not problems and not invalid and not failed_validation,
        "status": status.summary, "problems": problems, "invalid_indexes": invalid,
        "not_valid_constraints": not_valid, "validated_constraints": validated,
        "constraint_validation_failures": failed_validation,
    }


def restore_directly(project: Project, backup_path: str) -> dict[str, Any]:
    """Restore the pre-migrate backup over the database (only on ``--on-failure=restore``)."""
    from migration_guard.tasks.backup import restore_backup

    result = restore_backup(Path(backup_path), project.dsn, replace_existing=True)
    return {"database": result.database, "duration_s": result.duration_s, "replaced": True}


@dataclass(frozen=True)
class Steps:
    """How each step executes (direct calls by default; Prefect tasks in the flow)."""

    validate: Callable[[Project, SafeMigrateOptions], dict[str, Any]] = validate_directly
    backup: Callable[[Project, str | None, SafeMigrateOptions], dict[str, Any]] = backup_directly
    apply: Callable[[Project, ApplyOptions], ApplyReport] = (
        lambda project, options: apply_pending(project.dsn, project.ledger, options))
    hooks: Callable[[list[list[str]], float, Path | None], list[HookResult]] = (
        lambda commands, timeout, cwd: run_hooks(commands, timeout_s=timeout, cwd=cwd))
    startup_check: Callable[[str | None, str | None, float, Path | None], HookResult | None] = (
        lambda command, url, timeout, cwd: startup_check(command, url, timeout_s=timeout, cwd=cwd))
    verify: Callable[[Project, bool, ApplyOptions], dict[str, Any]] = verify_directly
    restore: Callable[[Project, str], dict[str, Any]] = restore_directly


@dataclass
class SafeMigrateReport:
    """What one safe-migrate run did, and what to do next when it failed."""

    target: str
    tool: str
    started_at: float = field(default_factory=time.time)
    ok: bool = False
    failed_stage: str | None = None
    error: str = ""
    error_category: str = ""
    suggestion: str = ""
    committed: bool = False  # migrations were applied before the failure
    validation: dict[str, Any] | None = None
    ignored_checks: list[str] = field(default_factory=list)
    backup: dict[str, Any] | None = None
    apply: dict[str, Any] | None = None
    hooks: list[dict[str, Any]] = field(default_factory=list)
    startup_check: dict[str, Any] | None = None
    verify: dict[str, Any] | None = None
    restored: dict[str, Any] | None = None
    recovery: list[str] = field(default_factory=list)
    rollback_choices: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def applied(self) -> list[str]:
        return list((self.apply or {}).get("applied", []))

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    @property
    def backup_path(self) -> str | None:
        return str(self.backup["path"]) if self.backup and self.backup.get("path") else None

    @property
    def summary(self) -> str:
        if self.ok:
            return f"applied {len(self.applied)} migration(s)" if self.applied else "no pending migrations"
        return f"FAILED at {self.failed_stage}: {self.error}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target, "tool": self.tool, "ok": self.ok, "exit_code": self.exit_code,
            "summary": self.summary, "failed_stage": self.failed_stage, "error": self.error,
            "error_category": self.error_category, "suggestion": self.suggestion, "committed": self.committed,
            "applied": self.applied, "validation": self.validation, "ignored_checks": self.ignored_checks,
            "backup": self.backup, "apply": self.apply, "hooks": self.hooks, "startup_check": self.startup_check,
            "verify": self.verify, "restored": self.restored, "recovery": self.recovery,
            "rollback_choices": self.rollback_choices, "timings": self.timings,
        }


def run_safe_migrate(project: Project, options: SafeMigrateOptions, steps: Steps | None = None,
                     logger: Any | None = None) -> SafeMigrateReport:
    """Validate, back up, apply under the lock, run hooks and the start-up check, verify.

    Never raises for an operational failure (the report carries it); configuration errors raise.
    """
    steps = steps or Steps()
    log = logger or _log
    report = SafeMigrateReport(project.target, project.ledger.tool)
    secrets = passwords_in(project.dsn)

    def fail(stage: str, error: MigrationGuardError | str, suggestion: str = "") -> SafeMigrateReport:
        report.failed_stage = stage
        report.error = redact(error.message if isinstance(error, MigrationGuardError) else error, secrets)
        report.suggestion = redact(error.suggestion if isinstance(error, MigrationGuardError) else suggestion, secrets)
        report.error_category = str(getattr(error, "category", "DATABASE_MIGRATION"))
        log.error("safe-migrate failed at %s: %s", stage, report.error)
        _recovery(report, project, error)
        return report

    # 1. validate
    if options.validate:
        with _timed(report, "validate"):
            try:
                report.validation = steps.validate(project, options)
            except MigrationGuardError as exc:
                return fail("validate", exc)
        blocking, ignored = blocking_checks(report.validation, project)
        report.ignored_checks = ignored
        for line in ignored:
            log.warning("validation: %s", line)
        if blocking:
            fixes = "; ".join(c.get("fix", "") for c in blocking if c.get("fix"))
            return fail("validate", "validation failed: " + "; ".join(f"{c['name']}: {c['reason']}" for c in blocking),
                        fixes or "see the validation report")
    # 2. backup
    if options.backup:
        with _timed(report, "backup"):
            try:
                report.backup = steps.backup(project, _migration_head(project), options)
            except MigrationGuardError as exc:
                return fail("backup", exc)
        log.info("backup %s verified", report.backup_path)
    # 3-4. lock + apply
    with _timed(report, "apply"):
        try:
            applied = steps.apply(project, options.apply)
        except MigrationApplyError as exc:
            partial = getattr(exc, "report", None)
            report.apply = partial.to_dict() if partial is not None else {"applied": [], "migrations": [exc.outcome.to_dict()]}
            report.committed = bool(report.applied)
            return fail("apply", exc)
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
    if options.startup_command or options.startup_url:
        with _timed(report, "startup-check"):
            try:
                result = steps.startup_check(options.startup_command, options.startup_url, options.startup_timeout_s, options.cwd)
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


def blocking_checks(validation: dict[str, Any] | None, project: Project) -> tuple[list[dict[str, Any]], list[str]]:
    """Validation failures that stop safe-migrate, and the ones it handles itself (with why).

    A failed migration that migration-guard left resumable, and the INVALID index its interrupted
    ``CREATE INDEX CONCURRENTLY`` left behind, are what the apply step resumes and cleans up.
    """
    if not validation:
        return [], []
    bad = {"FAIL", "WARN"} if validation.get("strict") else {"FAIL"}
    failing = [c for c in validation.get("checks", []) if c.get("status") in bad]
    if not failing:
        return [], []
    resumable, leftover_indexes = _resumable_work(project) if any(
        c["name"] in {"ledger", "invalid-indexes"} for c in failing) else (set(), set())
    blocking, ignored = [], []
    for check in failing:
        name = check["name"]
        if name in _HANDLED_BY_MIGRATE:
            ignored.append(f"{name}: {check.get('reason', '')} ({_HANDLED_BY_MIGRATE[name]})")
        elif name == "lint" and _only_handled_lint_errors(check):
            rules = sorted({f["rule"] for f in check["data"]["findings"] if f.get("severity") == "error"})
            ignored.append("lint: " + "; ".join(f"{r} ({_HANDLED_LINT_RULES[r]})" for r in rules))
        elif name == "ledger" and resumable and all(d.split(":")[0] in resumable for d in check.get("details", [])):
            ignored.append(f"ledger: {', '.join(sorted(resumable))} stopped midway under migration-guard and will be resumed")
        elif name == "invalid-indexes" and leftover_indexes and all(
                i.get("name") in leftover_indexes for i in check.get("data", {}).get("indexes", [])):
            ignored.append(f"invalid-indexes: {', '.join(sorted(leftover_indexes))} left by the interrupted migration; "
                           "dropped and rebuilt when it resumes")
        else:
            blocking.append(check)
    return blocking, ignored


def _only_handled_lint_errors(check: dict[str, Any]) -> bool:
    findings = check.get("data", {}).get("findings")
    if not findings:
        return False
    errors = [f for f in findings if f.get("severity") == "error"]
    return bool(errors) and all(f.get("rule") in _HANDLED_LINT_RULES for f in errors)


def _resumable_work(project: Project) -> tuple[set[str], set[str]]:
    from pglast import ast

    migrations = {m.name: m for m in read_migrations(project)}
    _exists, entries = read_ledger(project)
    names, indexes = set(), set()
    for entry in entries:
        migration = migrations.get(entry.migration_name)
        if is_resumable(entry, migration):
            names.add(entry.migration_name)
            for step in prepare_migration(migration).steps:
                node = step.statement.node if step.statement is not None else None
                if isinstance(node, ast.IndexStmt) and node.concurrent and node.idxname:
                    indexes.add(node.idxname)
    return names, indexes


def _migration_head(project: Project) -> str | None:
    try:
        _exists, entries = read_ledger(project)
    except MigrationGuardError:
        return None
    applied = [e for e in entries if e.is_applied]
    return applied[-1].migration_name if applied else None


def _after_commit_failure(report, project, options, steps, fail, stage: str, message: str) -> SafeMigrateReport:
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


def _recovery(report: SafeMigrateReport, project: Project, error: Any) -> None:
    """The exact commands for the next step, and (after a commit) the rollback choices."""
    restore = (f"migration-guard backup restore {shlex.quote(report.backup_path)} --replace --yes"
               if report.backup_path else None)
    stage = report.failed_stage
    if stage == "apply" and isinstance(error, MigrationApplyError):
        outcome = error.outcome
        path = next((str(m.path) for m in read_migrations(project) if m.name == outcome.name), outcome.name)
        kind = getattr(error.cause, "kind", "other")
        if outcome.mode == "transaction" and kind != "other":  # connection lost, timeout, privilege: the file is fine
            report.recovery.append(f"{outcome.name} was rolled back completely ({kind}, not the migration file); "
                                   f"{error.cause.suggestion}; then re-run: migration-guard migrate")
        elif outcome.mode == "transaction":
            report.recovery.append(f"{outcome.name} was rolled back completely; fix {path} and re-run: migration-guard migrate")
        else:
            report.recovery.append(f"{outcome.name} stopped after {outcome.steps_done} of {outcome.total_steps} statements; "
                                   "fix the cause, then resume with: migration-guard migrate   (or: migration-guard recover)")
    elif report.suggestion:
        report.recovery.append(report.suggestion)
    if report.committed or stage in {"hooks", "startup-check", "verify"}:
        applied = report.applied
        downs = [m for m in read_migrations(project) if m.name in applied and m.down_path is not None]
        if downs:
            report.rollback_choices.append(
                "run the down migrations, newest first: " + "; ".join(
                    f"psql \"$DATABASE_URL\" -1 -f {shlex.quote(str(m.down_path))}" for m in reversed(downs))
                + " — then mark each rolled back in the ledger")
        else:
            report.rollback_choices.append("no down migration exists for the applied migrations")
        if restore:
            report.rollback_choices.append(f"restore the pre-migrate backup: {restore}")
        report.rollback_choices.append("fix forward: add a new migration that corrects it, then: migration-guard migrate")
    if restore:
        report.recovery.append(f"backup to restore if needed: {restore}")


class _timed:
    def __init__(self, report: SafeMigrateReport, stage: str) -> None:
        self.report, self.stage = report, stage

    def __enter__(self) -> None:
        self.started = time.monotonic()

    def __exit__(self, *exc: Any) -> None:
        self.report.timings[self.stage] = round(time.monotonic() - self.started, 3)


def _redacted(data: dict[str, Any], secrets: list[str]) -> dict[str, Any]:
    return {k: redact(v, secrets) if isinstance(v, str) else v for k, v in data.items()}


def options_from_settings(settings: Any, **overrides: Any) -> SafeMigrateOptions:
    """SafeMigrateOptions from Settings (LOCK_TIMEOUT, MIGRATE_*, POST_MIGRATE_HOOKS, STARTUP_CHECK_*),
    with explicit values (None = not given) taking precedence.

    Raises:
        ConfigError: a malformed duration or hook list.
    """
    from migration_guard.tasks.migrate.hooks import parse_commands
    from migration_guard.tasks.durations import postgres_duration_seconds
    from migration_guard.tasks.migrate.timeouts import validate_statement_timeout

    given = {k: v for k, v in overrides.items() if v is not None}
    lock_timeout = given.pop("lock_timeout", settings.lock_timeout)
    statement_timeout = given.pop("statement_timeout", settings.statement_timeout)
    postgres_duration_seconds(lock_timeout, name="LOCK_TIMEOUT")
    validate_statement_timeout(statement_timeout)
    apply = ApplyOptions(
        lock_timeout=lock_timeout, statement_timeout=statement_timeout,
        retry_budget_s=float(given.pop("retry_budget_s", settings.migrate_retry_budget)),
        lock_wait_s=float(given.pop("lock_wait_s", settings.migrate_lock_wait)),
        connect_timeout=settings.connect_timeout,
    )
    hooks = given.pop("hooks", None)
    if hooks is None:
        hooks = parse_commands(settings.post_migrate_hooks)
    elif isinstance(hooks, str):
        hooks = parse_commands(hooks)
    return SafeMigrateOptions(
        apply=apply, hooks=[list(h) for h in hooks],
        hook_timeout_s=float(given.pop("hook_timeout_s", settings.hook_timeout)),
        startup_command=given.pop("startup_command", settings.startup_check_command),
        startup_url=given.pop("startup_url", settings.startup_check_url),
        startup_timeout_s=float(given.pop("startup_timeout_s", settings.startup_check_timeout)),
        **given,
    )


def alert_outcome(settings: Any, report: SafeMigrateReport, *, flow_run_url: str | None = None, logger: Any | None = None) -> None:
    """Fire the safe-migrate alert on failure (exact recovery command, backup to restore), resolve
    it on success. Degrades to a log line when alerts are unavailable."""
    log = logger or _log
    try:
        from migration_guard.tasks.alerts.api import fire_alert, resolve_alerts
    except ImportError:
        log.warning("alerts are not installed: safe-migrate outcome not alerted")
        return
    try:
        if report.ok:
            resolve_alerts(settings, check="safe-migrate", database=report.target)
            return
        partial = report.committed or any(
            not m.get("ok") and m.get("mode") != "transaction" for m in (report.apply or {}).get("migrations", []))
        fire_alert(
            settings, check="safe-migrate", database=report.target,
            category=report.error_category or "DATABASE_MIGRATION",
            severity="HIGH" if partial else "MEDIUM",
            title=f"safe-migrate failed at {report.failed_stage} on {report.target}",
            message=report.error,
            impact=("migrations were committed before the failure: the application may run against a changed schema"
                    if report.committed else
                    "a migration stopped midway (resumable); the deploy is blocked until it completes" if partial else
                    "nothing was changed by the failed step; the deploy is blocked until it is fixed"),
            suggestions=[*report.recovery, *report.rollback_choices],
            original_error=report.error, component="safe-migrate", flow_run_url=flow_run_url,
        )
    except Exception as exc:  # noqa: BLE001 - an alerting failure must not hide the migration outcome
        log.warning("could not record the safe-migrate alert: %s", exc)

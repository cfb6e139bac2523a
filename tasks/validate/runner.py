"""The order of validation and its rules, independent of how each step is executed: the CLI calls
the checks directly, the flow calls them as retryable Prefect tasks (see ``flows/validate.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.models import StatusReport
from migration_guard.tasks.project import Project, read_status
from migration_guard.tasks.secrets import passwords_in, redact
from migration_guard.tasks.validate.base import Check
from migration_guard.tasks.validate.checks import backup as backup_check
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult, CheckStatus, ValidationReport
from migration_guard.tasks.validate.registry import BACKUP, CHECKS, CONNECTIVITY


@dataclass(frozen=True)
class Steps:
    """How each step is executed (direct calls by default; Prefect tasks in the flow)."""

    run_check: Callable[[Check, ValidationContext], CheckResult] = lambda check, ctx: check.run(ctx)
    read_status: Callable[[Project], StatusReport] = read_status
    take_backup: Callable[[ValidationContext], CheckResult] = backup_check.run


def run_validation(
    ctx: ValidationContext,
    steps: Steps | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> ValidationReport:
    """Run every check and return the report (never raises for a failed check).

    Connectivity first: when it fails the rest are SKIP. Then the migration status is read once
    and shared. The backup runs last, only when switched on and nothing FAILed.
    """
    steps = steps or Steps()
    started = time.monotonic()
    results: list[CheckResult] = []

    def record(result: CheckResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    record(_guarded(steps.run_check, CONNECTIVITY, ctx))
    if results[0].status is CheckStatus.FAIL:
        for check in (*CHECKS, BACKUP):
            record(check.result(CheckStatus.SKIP, "not run: the database is unreachable"))
    else:
        try:
            ctx = ctx.with_status(steps.read_status(ctx.project))
        except MigrationGuardError as exc:
            ctx = ctx.with_status(None, exc.message)
        for check in CHECKS:
            record(_guarded(steps.run_check, check, ctx))
        if not ctx.options.backup:
            record(backup_check.skipped_result("not taken (backup switched off)"))
        elif any(r.status is CheckStatus.FAIL for r in results):
            record(backup_check.skipped_result("not taken: fix the failures above first"))
        else:
            record(_guarded(lambda _check, c: steps.take_backup(c), BACKUP, ctx))
    return ValidationReport(ctx.project.target, tuple(results), ctx.options.strict, round(time.monotonic() - started, 3))


def _guarded(run: Callable[[Check, ValidationContext], CheckResult], check: Check, ctx: ValidationContext) -> CheckResult:
    try:
        return run(check, ctx)
    except MigrationGuardError as exc:
        return check.result(CheckStatus.FAIL, exc.message, fix=exc.suggestion)
    except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others' results
        message = redact(str(exc).splitlines()[0] if str(exc) else "", passwords_in(ctx.dsn))
        return check.result(CheckStatus.FAIL, f"the check itself failed: {type(exc).__name__}: {message}",
                            fix="report this as a migration-guard bug, with the message")

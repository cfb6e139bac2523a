"""The order of a validate run and its rules, written once over the steps port
(``steps.ValidateSteps``): the CLI and safe-migrate run it with the plain steps, the flow with
Prefect tasks (``tasks.PREFECT_STEPS``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from migration_guard.tasks.checks.result import FailureKind, Result
from migration_guard.tasks.checks.runner import run_check
from migration_guard.tasks.db import database_name
from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.validate.base import Check
from migration_guard.tasks.validate.checks import backup as backup_check
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult, CheckStatus, ValidationReport
from migration_guard.tasks.validate.registry import BACKUP, CHECKS, CONNECTIVITY
from migration_guard.tasks.validate.steps import PLAIN_STEPS, ValidateSteps


def run_validation(
    ctx: ValidationContext,
    steps: ValidateSteps = PLAIN_STEPS,
    on_result: Callable[[CheckResult], None] | None = None,
) -> ValidationReport:
    """Run every check, publish the report and return it (never raises for a failed check).

    Connectivity first: when it fails the rest are SKIP. Then the migration status is read once
    and shared. The backup runs last, only when switched on and nothing FAILed.
    """
    started = time.monotonic()
    results: list[CheckResult] = []

    def record(result: CheckResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    def run_step(check: Check, c: ValidationContext) -> CheckResult:
        return steps.run_check(check.name, c)

    def take_backup(_check: Check, c: ValidationContext) -> CheckResult:
        return backup_check.take_backup(c, steps.create_backup, steps.verify_backup)

    record(checked(CONNECTIVITY, ctx, run_step))
    if results[0].status is CheckStatus.FAIL:
        for check in (*CHECKS, BACKUP):
            record(check.result(CheckStatus.SKIP, "not run: the database is unreachable"))
    else:
        try:
            ctx = ctx.with_status(steps.read_status(ctx.project))
        except MigrationGuardError as exc:
            ctx = ctx.with_status(None, exc.message)
        for check in CHECKS:
            record(checked(check, ctx, run_step))
        if not ctx.options.backup:
            record(backup_check.skipped_result("not taken (backup switched off)"))
        elif any(r.status is CheckStatus.FAIL for r in results):
            record(backup_check.skipped_result("not taken: fix the failures above first"))
        else:
            record(checked(BACKUP, ctx, take_backup))
    report = ValidationReport(ctx.project.target, tuple(results), ctx.options.strict,
                              round(time.monotonic() - started, 3))
    steps.publish(report, database_name(ctx.dsn))
    return report


def checked(check: Check, ctx: ValidationContext, call: Callable[[Check, ValidationContext], CheckResult]) -> CheckResult:
    """``call(check, ctx)`` through the kernel's runner; a check that raised is FAIL (a gate fails
    closed), with our error's message and suggestion, or the bug's type and first line."""
    return result_of(check, run_check(check, ctx, call=call, dsn=ctx.dsn))


def result_of(check: Check, result: Result[CheckResult]) -> CheckResult:
    """The kernel's result in the validate suite's words."""
    failure = result.failure
    if failure is None:
        return result.output
    if failure.kind is FailureKind.TOOL:
        return check.result(CheckStatus.FAIL, failure.message, fix=failure.suggestion)
    return check.result(CheckStatus.FAIL, f"the check itself failed: {failure.error_type}: {failure.raw}",
                        fix="report this as a migration-guard bug, with the message")

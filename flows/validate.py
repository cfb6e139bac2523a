"""The `validate` flow: can we migrate safely right now?

Each check runs as a retryable Prefect task; the backup is taken with the backup tasks and
verified. The report becomes the markdown artifact ``validation-<database>`` and the flow's return
value (JSON-able). safe-migrate runs this flow first, as a subflow, and stops when ``ok`` is false.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from migration_guard.blocks.resolve import resolve_settings
from migration_guard.flows.prefect_api import expected_failure
from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.project import Project
from migration_guard.tasks.validate import (
    CheckResult,
    ValidationContext,
    ValidationOptions,
    ValidationReport,
    run_validation,
)
from migration_guard.tasks.validate.tasks import PREFECT_STEPS


class ValidationFailed(MigrationGuardError):
    """Raised by the flow (with ``raise_on_fail``) so the run ends Failed; carries the report."""

    def __init__(self, report: ValidationReport) -> None:
        failed = [c.name for c in report.checks if c.status.value == "FAIL" or (report.strict and c.status.value == "WARN")]
        super().__init__(f"validation of {report.database} failed: {', '.join(failed)}",
                         "see the validation artifact for each reason and fix")
        self.report = report

    def __reduce__(self):  # Prefect may pickle the exception as the run's result: keep the report
        return (ValidationFailed, (self.report,))


@flow(name="validate", log_prints=False)
def validate_flow(
    database_url: str | None = None,
    migrations_dir: str | None = None,
    migration_tool: str | None = None,
    database_block: str | None = None,
    project_block: str | None = None,
    backup: bool = True,
    strict: bool = False,
    restore_check: bool = False,
    idle_in_transaction_seconds: float = 5.0,
    long_transaction_seconds: float = 300.0,
    lock_min_age_seconds: float = 1.0,
    backup_reason: str = "pre-migrate",
    raise_on_fail: bool = False,
) -> dict[str, Any]:
    """Validate that migrating now is safe; returns ``ValidationReport.to_dict()``.

    Args:
        database_url / migrations_dir / migration_tool: override the environment.
        database_block / project_block: names of saved blocks to read settings from.
        backup: take and verify a backup as the last check (only when nothing FAILed).
        strict: WARN counts as FAIL.
        restore_check: verify the backup by restoring it into a scratch database.
        idle_in_transaction_seconds / long_transaction_seconds: thresholds of the transactions check.
        lock_min_age_seconds: ignore conflicting table locks of transactions younger than this.
        backup_reason: stored with the backup (``pre-migrate``).
        raise_on_fail: end the run Failed (after writing the artifact) when validation fails.
    """
    logger = get_run_logger()
    try:
        settings = resolve_settings(
            database_block, project_block,
            database_url=database_url, migrations_dir=migrations_dir, migration_tool=migration_tool,
        )
        project = Project.from_settings(settings)
    except MigrationGuardError as exc:
        return expected_failure(exc, logger)
    options = ValidationOptions(
        idle_in_transaction_seconds=idle_in_transaction_seconds, long_transaction_seconds=long_transaction_seconds,
        lock_min_age_seconds=lock_min_age_seconds, backup=backup, restore_check=restore_check, strict=strict, backup_reason=backup_reason,
    )

    def log(result: CheckResult) -> None:
        logger.info("%s %s: %s", result.status.value, result.name, result.reason)

    report = run_validation(ValidationContext(project, options), PREFECT_STEPS, on_result=log)
    logger.info("validation of %s: %s", report.database, report.summary)
    if raise_on_fail and not report.ok:
        return expected_failure(ValidationFailed(report), logger)
    return report.to_dict()


__all__ = ["ValidationFailed", "ValidationReport", "validate_flow"]

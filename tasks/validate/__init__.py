"""Validation: "can we migrate safely right now?" — one module per check under ``checks/``,
``registry`` lists them, ``runner`` orders them, ``model`` holds the results (plain data).
``tasks`` wraps checks as Prefect tasks for ``flows/validate.py``."""

from migration_guard.tasks.validate.context import ValidationContext, ValidationOptions
from migration_guard.tasks.validate.model import (
    CheckResult,
    CheckStatus,
    ValidationReport,
    artifact_key,
    report_markdown,
)
from migration_guard.tasks.validate.runner import Steps, run_validation

__all__ = ["CheckResult", "CheckStatus", "Steps", "ValidationContext", "ValidationOptions", "ValidationReport",
           "artifact_key", "report_markdown", "run_validation"]

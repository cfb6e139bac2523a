"""Validate: "can we migrate safely right now?" — one module per check under ``checks/``, built on
the check kernel (``tasks/checks``); ``registry`` lists them, ``runner`` orders them (the sequence,
over the steps port of ``steps``), ``model`` holds the results (plain data). ``tasks`` is the same
steps port as Prefect tasks, for ``flows/validate.py``."""

from migration_guard.tasks.validate.context import ValidationContext, ValidationOptions
from migration_guard.tasks.validate.model import CheckResult, CheckStatus, ValidationReport
from migration_guard.tasks.validate.pipeline import run_validation
from migration_guard.tasks.validate.steps import PLAIN_STEPS, ValidateSteps

__all__ = ["PLAIN_STEPS", "CheckResult", "CheckStatus", "ValidateSteps", "ValidationContext", "ValidationOptions",
           "ValidationReport", "run_validation"]

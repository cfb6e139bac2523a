"""The I/O steps of a validate run, as plain functions (no Prefect import: the CLI stays fast).
``PLAIN_STEPS`` bundles them; ``tasks/validate/tasks.PREFECT_STEPS`` is the same port with the
steps run as Prefect tasks. The sequence is ``runner.run_validation``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from migration_guard.tasks.backup import BackupInfo, VerifyResult, create_backup, verify_backup
from migration_guard.tasks.models import StatusReport
from migration_guard.tasks.project import Project
from migration_guard.tasks.status.pipeline import read_status
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult, ValidationReport
from migration_guard.tasks.validate.registry import get_check


def run_check_step(check_name: str, ctx: ValidationContext) -> CheckResult:
    """Run the check called ``check_name`` (raises only what a retry may fix, or a bug)."""
    return get_check(check_name).run(ctx)


def no_publish(report: ValidationReport, database: str) -> str | None:
    """Outside Prefect there is nowhere to publish the report: no artifact key."""
    return None


@dataclass(frozen=True)
class ValidateSteps:
    """The validate run's steps; plain functions for the CLI and safe-migrate, Prefect tasks for the flow.

    Attributes:
        run_check: run one check by name.
        read_status: migrations on disk joined with the ledger (read once, shared by the checks).
        create_backup / verify_backup: the backup check's two steps (``tasks.backup`` signatures).
        publish: publish the report of ``database`` (the Prefect artifact ``validation-<database>``;
            nothing outside Prefect); returns the key.
    """

    run_check: Callable[[str, ValidationContext], CheckResult]
    read_status: Callable[[Project], StatusReport]
    create_backup: Callable[..., BackupInfo]
    verify_backup: Callable[..., VerifyResult]
    publish: Callable[[ValidationReport, str], str | None]


PLAIN_STEPS = ValidateSteps(run_check_step, read_status, create_backup, verify_backup, no_publish)

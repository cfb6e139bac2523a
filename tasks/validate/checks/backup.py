"""The backup itself, then verified: the last check, taken only when everything else passed."""

from __future__ import annotations

from collections.abc import Callable

from migration_guard.tasks.backup import BackupError, BackupInfo, VerifyResult, create_backup, verify_backup
from migration_guard.tasks.backup.sizing import format_bytes
from migration_guard.tasks.validate.base import Check
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult, CheckStatus


def backup_result(info: BackupInfo, verified: VerifyResult) -> CheckResult:
    """PASS naming the verified backup."""
    return CHECK.result(
        CheckStatus.PASS,
        f"{info.path.name}: {format_bytes(info.size_bytes)} in {info.duration_s:.1f} s, verified ({verified.level}, "
        f"{verified.data_entries} table(s) with data)",
        fix=f"restore with: migration-guard backup restore {info.path}",
        backup=info.to_dict(), verify=verified.to_dict())


def failed_result(exc: BackupError) -> CheckResult:
    """FAIL with the backup error's message and suggestion."""
    return CHECK.result(CheckStatus.FAIL, exc.message, fix=exc.suggestion)


def skipped_result(reason: str) -> CheckResult:
    """SKIP: the backup was not taken (switched off, or an earlier check FAILed)."""
    return CHECK.result(CheckStatus.SKIP, reason)


def take_backup(ctx: ValidationContext, create: Callable[..., BackupInfo] = create_backup,
                verify: Callable[..., VerifyResult] = verify_backup) -> CheckResult:
    """Create the backup with ``create`` and verify it with ``verify`` (the plain functions, or the
    flow's backup tasks); a BackupError is the check's FAIL."""
    try:
        info = create(ctx.dsn, ctx.backup_dir, reason=ctx.options.backup_reason,
                      migration_head=ctx.status.last_applied if ctx.status is not None else None,
                      lock_wait_timeout=ctx.options.backup_lock_wait_timeout)
        verified = verify(info.path, restore_check=ctx.options.restore_check, dsn=ctx.dsn)
    except BackupError as exc:
        return failed_result(exc)
    return backup_result(info, verified)


def run(ctx: ValidationContext) -> CheckResult:
    """The backup with the plain backup functions."""
    return take_backup(ctx)


CHECK = Check("backup", "Verified backup", run,
              why="a migration without a restorable backup turns any mistake into data loss")

"""The backup itself, then verified: the last check, taken only when everything else passed."""

from __future__ import annotations

from migration_guard.tasks.backup import BackupError, BackupInfo, VerifyResult, create_backup, verify_backup
from migration_guard.tasks.backup.sizing import format_bytes
from migration_guard.tasks.validate.base import Check
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult, CheckStatus


def backup_result(info: BackupInfo, verified: VerifyResult) -> CheckResult:
    """PASS naming the verified backup (plain logic shared by the CLI runner and the flow)."""
    return CHECK.result(
        CheckStatus.PASS,
        f"{info.path.name}: {format_bytes(info.size_bytes)} in {info.duration_s:.1f} s, verified ({verified.level}, "
        f"{verified.data_entries} table(s) with data)",
        fix=f"restore with: migration-guard backup restore {info.path}",
        backup=info.to_dict(), verify=verified.to_dict())


def failed_result(exc: BackupError) -> CheckResult:
    return CHECK.result(CheckStatus.FAIL, exc.message, fix=exc.suggestion)


def skipped_result(reason: str) -> CheckResult:
    return CHECK.result(CheckStatus.SKIP, reason)


def run(ctx: ValidationContext) -> CheckResult:
    try:
        info = create_backup(ctx.dsn, ctx.backup_dir, reason=ctx.options.backup_reason, migration_head=ctx.migration_head,
                             lock_wait_timeout=ctx.options.backup_lock_wait_timeout)
        verified = verify_backup(info.path, restore_check=ctx.options.restore_check, dsn=ctx.dsn)
    except BackupError as exc:
        return failed_result(exc)
    return backup_result(info, verified)


CHECK = Check("backup", "Verified backup", run,
              why="a migration without a restorable backup turns any mistake into data loss")

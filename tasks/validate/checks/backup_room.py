"""Room for a backup: usable pg_dump for this server, a writable backup folder, free disk for the estimate."""

from __future__ import annotations

from migration_guard.tasks.backup import BackupError, preflight
from migration_guard.tasks.backup.sizing import format_bytes
from migration_guard.tasks.validate.base import Check
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult, CheckStatus


def run(ctx: ValidationContext) -> CheckResult:
    try:
        pre = preflight(ctx.dsn, ctx.backup_dir)
    except BackupError as exc:
        return CHECK.result(CheckStatus.FAIL, exc.message, fix=exc.suggestion)
    return CHECK.result(
        CheckStatus.PASS,
        f"{format_bytes(pre.free_bytes)} free in {ctx.backup_dir} for a ~{format_bytes(pre.estimated_bytes)} "
        f"{pre.plan.format} dump (pg_dump {pre.tools.version})",
        estimated_bytes=pre.estimated_bytes, free_bytes=pre.free_bytes, format=pre.plan.format, tool_version=pre.tools.version)


CHECK = Check("backup-room", "Room for a backup", run,
              why="a pre-migration backup that cannot be written is no backup")

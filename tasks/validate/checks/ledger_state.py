"""The ledger: no failed, modified or missing-locally migrations (what `status` reports)."""

from __future__ import annotations

from migration_guard.tasks.validate.base import Check
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult, CheckStatus


def run(ctx: ValidationContext) -> CheckResult:
    report = ctx.status
    if report is None:
        return CHECK.result(CheckStatus.FAIL, f"cannot read the migration status: {ctx.status_error or 'unknown error'}",
                            fix="migration-guard status  (shows the details)")
    if report.problems:
        details = [f"{s.name}: {s.state.value} — {s.detail}" for s in report.problems]
        fixes = sorted({s.suggestion for s in report.problems if s.suggestion})
        return CHECK.result(CheckStatus.FAIL, f"{len(report.problems)} migration(s) need attention before migrating ({report.summary})",
                            details, fix="; ".join(fixes), summary=report.summary)
    pending = [s.name for s in report.pending]
    table = "" if report.ledger_exists else f" (ledger {report.ledger_table} not created yet)"
    reason = f"{len(pending)} pending: {', '.join(pending[:5])}{' …' if len(pending) > 5 else ''}" if pending else "no pending migrations"
    return CHECK.result(CheckStatus.PASS, reason + table, pending=pending, summary=report.summary)


CHECK = Check("ledger", "Migration ledger state", run,
              why="migrating on top of a failed, edited or unknown migration compounds the damage")

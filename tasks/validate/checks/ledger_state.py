"""The ledger: no failed, modified or missing-locally migrations (what `status` reports); a
migration running right now is waited for (within MIGRATE_LOCK_WAIT), then a WARN naming its session."""

from __future__ import annotations

import time

from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.models import StatusReport
from migration_guard.tasks.status.pipeline import read_status
from migration_guard.tasks.validate.base import Check
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult, CheckStatus

#: seconds between two status reads while a migration runs
POLL_SECONDS = 0.5


def run(ctx: ValidationContext) -> CheckResult:
    report = ctx.status
    if report is None:
        return CHECK.result(CheckStatus.FAIL, f"cannot read the migration status: {ctx.status_error or 'unknown error'}",
                            fix="migration-guard status  (shows the details)")
    waited = 0.0
    if report.running:
        try:
            report, waited = wait_while_running(ctx, report)
        except MigrationGuardError as exc:
            return CHECK.result(CheckStatus.FAIL, f"cannot read the migration status: {exc.message}",
                                fix="migration-guard status  (shows the details)")
    if report.problems:
        details = [f"{s.name}: {s.state.value} — {s.detail}" for s in report.problems]
        fixes = sorted({s.suggestion for s in report.problems if s.suggestion})
        return CHECK.result(CheckStatus.FAIL, f"{len(report.problems)} migration(s) need attention before migrating ({report.summary})",
                            details, fix="; ".join(fixes), summary=report.summary)
    pending = [s.name for s in report.pending]
    if report.running:
        running = report.running[0]
        session = running.in_flight.session if running.in_flight else None
        who = (f"pid {session.pid}, application {session.application}, current statement: "
               f"{session.current_statement or '(none)'}" if session else "session unknown")
        confidence = running.in_flight.confidence if running.in_flight else "low"
        return CHECK.result(
            CheckStatus.WARN,
            f"migration {running.name} is running now ({who}; {confidence} confidence); still running after "
            f"waiting {waited:.0f} s",
            [f"{s.name}: running — {s.detail}" for s in report.running],
            fix="wait for it to finish (migration-guard status shows it), then re-run: migration-guard migrate",
            pending=pending, summary=report.summary,
            running=[{"name": s.name, **(s.in_flight.to_dict() if s.in_flight else {})} for s in report.running])
    table = "" if report.ledger_exists else f" (ledger {report.ledger_table} not created yet)"
    reason = f"{len(pending)} pending: {', '.join(pending[:5])}{' …' if len(pending) > 5 else ''}" if pending else "no pending migrations"
    if waited:
        reason += f" (waited {waited:.1f} s for a running migration to finish)"
    return CHECK.result(CheckStatus.PASS, reason + table, pending=pending, summary=report.summary)


def wait_while_running(ctx: ValidationContext, report: StatusReport) -> tuple[StatusReport, float]:
    """Re-read the status until no migration runs or MIGRATE_LOCK_WAIT seconds have passed;
    (the last report, seconds waited)."""
    budget = float(ctx.project.settings.migrate_lock_wait)
    started = time.monotonic()
    while report.running and time.monotonic() - started < budget:
        time.sleep(min(POLL_SECONDS, max(budget - (time.monotonic() - started), 0)))
        report = read_status(ctx.project)
    return report, time.monotonic() - started


CHECK = Check("ledger", "Migration ledger state", run,
              why="migrating on top of a failed, edited or unknown migration compounds the damage")

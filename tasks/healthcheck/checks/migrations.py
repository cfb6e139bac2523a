"""migrations: failed (HIGH), modified after apply (HIGH), missing locally (MEDIUM), pending longer
than a grace period (MEDIUM). Reads disk + ledger through ``tasks.project.read_status``."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from migration_guard.tasks.checks.check import Check
from migration_guard.tasks.healthcheck.base import CheckContext, Outcome, Problem, max_severity
from migration_guard.tasks.durations import format_duration
from migration_guard.tasks.models import MigrationStatus, State, StatusReport

NAME = "migrations"
_TIMESTAMP = re.compile(r"^(\d{14})")
_SEVERITY = {State.FAILED: "HIGH", State.MODIFIED: "HIGH", State.MISSING_LOCALLY: "MEDIUM", State.PENDING: "MEDIUM"}


def run(ctx: CheckContext) -> Outcome:
    from pydantic import SecretStr

    from migration_guard.tasks.project import Project
    from migration_guard.tasks.status.pipeline import read_status

    update: dict = {"database_url": SecretStr(ctx.target.dsn), "migrations_dir": ctx.target.migrations_dir}
    if ctx.target.migration_tool:
        update["migration_tool"] = ctx.target.migration_tool
    if ctx.target.schema:
        update["db_schema"] = ctx.target.schema
    report = read_status(Project.from_settings(ctx.settings.model_copy(update=update)))
    return evaluate(report, ctx.now, ctx.config.thresholds.pending_migration_grace.total_seconds(), ctx.target.name)


def applies(ctx: CheckContext) -> bool:
    """Only databases with a migrations folder configured."""
    return ctx.target.migrations_dir is not None


def pending_since(status: MigrationStatus) -> datetime | None:
    """When a pending migration appeared: its name's timestamp (Prisma), else the file's mtime."""
    match = _TIMESTAMP.match(status.name)
    if match:
        try:
            return datetime.strptime(match.group(1), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        except ValueError:
            pass
    if status.migration is not None:
        try:
            return datetime.fromtimestamp(status.migration.path.stat().st_mtime, UTC)
        except OSError:
            return None
    return None


def evaluate(report: StatusReport, now: datetime, grace_seconds: float, database: str) -> Outcome:
    """Decide on a status report (plain data): one problem summing up every bad migration."""
    found: list[tuple[str, MigrationStatus, str]] = []
    for status in report.statuses:
        if status.state in (State.FAILED, State.MODIFIED, State.MISSING_LOCALLY):
            found.append((_SEVERITY[status.state], status, status.detail))
        elif status.state is State.PENDING:
            since = pending_since(status)
            if since is not None and (now - since).total_seconds() > grace_seconds:
                found.append(("MEDIUM", status, f"pending for {format_duration(now - since)}"))
    if not found:
        pending = len(report.pending)
        summary = f"{report.count(State.APPLIED)} applied" + (f", {pending} pending within grace" if pending else "")
        return Outcome(summary, 0, "migrations")
    severity = max_severity([f[0] for f in found])
    first = found[0][1]
    lines = [f"- {s.name}: {s.state.value} ({detail})" for _, s, detail in found]
    suggestions: list[str] = []
    for _, status, _ in found:
        if status.suggestion and status.suggestion not in suggestions:
            suggestions.append(status.suggestion)
    suggestions.append("migration-guard status   (full picture of every migration)")
    states = sorted({s.state.value for _, s, _ in found})
    title = (f"Migration {first.name} {first.state.value.replace('_', ' ')}" if len(found) == 1
             else f"{len(found)} migrations need attention ({', '.join(states)})")
    impact = ("Deploys are blocked: the next `migrate deploy` refuses to run until this is resolved, "
              "and the schema may be half-changed." if severity == "HIGH"
              else "The database schema and the code disagree; features that need the change will fail.")
    return Outcome(
        f"{len(found)} problem migration(s): {', '.join(states)}", len(found), "migrations",
        Problem(severity, "DATABASE_MIGRATION", title,
                f"Migrations of {database} ({report.tool}, ledger {report.ledger_table}):\n" + "\n".join(lines),
                impact, tuple(suggestions),
                original_error="\n".join(f"{s.name}: {s.failure_error}" for _, s, _ in found if s.failure_error),
                key=problem_key([s for _, s, _ in found])),
    )


def problem_key(statuses: list[MigrationStatus]) -> str:
    """What makes this a different problem: each failed / modified / missing migration by name, and
    whether migrations are pending (not which: a new pending migration is the same problem)."""
    parts = {f"{s.state.value}:{s.name}" for s in statuses if s.state is not State.PENDING}
    if any(s.state is State.PENDING for s in statuses):
        parts.add("pending")
    return ",".join(sorted(parts))


CHECK = Check(NAME, "failed / modified / missing-locally migrations and pending ones past the grace period", run,
              applies)

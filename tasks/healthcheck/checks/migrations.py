"""migrations: failed (HIGH), modified after apply (HIGH), missing locally (MEDIUM), pending longer
than a grace period (MEDIUM), running longer than ``thresholds.running_migration`` (MEDIUM, naming
the session, its application and current statement; a migration running within it is no alert).
Reads disk + ledger + live sessions through ``tasks.status.pipeline.read_status``."""

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
    return evaluate(report, ctx.now, ctx.config.thresholds.pending_migration_grace.total_seconds(), ctx.target.name,
                    running_limit_seconds=ctx.config.thresholds.running_migration.total_seconds())


def applies(ctx: CheckContext) -> bool:
    """Only databases with a migrations folder configured."""
    return ctx.target.migrations_dir is not None


def pending_since(status: MigrationStatus) -> datetime | None:
    """When a pending migration appeared here: the later of its name's timestamp (Prisma's
    creation time) and its file's mtime (when a deploy put it on this host) — a migration written
    weeks before its release has not been pending for weeks."""
    candidates: list[datetime] = []
    match = _TIMESTAMP.match(status.name)
    if match:
        try:
            candidates.append(datetime.strptime(match.group(1), "%Y%m%d%H%M%S").replace(tzinfo=UTC))
        except ValueError:
            pass
    if status.migration is not None:
        try:
            candidates.append(datetime.fromtimestamp(status.migration.path.stat().st_mtime, UTC))
        except OSError:
            pass
    return max(candidates, default=None)


def running_for(status: MigrationStatus, now: datetime) -> float:
    """Seconds since a running migration's attempt started."""
    started = max((e.started_at for e in status.failed_entries), default=now)
    return max((now - started).total_seconds(), 0.0)


def evaluate(report: StatusReport, now: datetime, grace_seconds: float, database: str, *,
             running_limit_seconds: float = 1800.0) -> Outcome:
    """Decide on a status report (plain data): one problem summing up every bad migration; a
    migration running within ``running_limit_seconds`` is not one."""
    found: list[tuple[str, MigrationStatus, str]] = []
    for status in report.statuses:
        if status.state in (State.FAILED, State.MODIFIED, State.MISSING_LOCALLY):
            found.append((_SEVERITY[status.state], status, status.detail))
        elif status.state is State.RUNNING:
            elapsed = running_for(status, now)
            if elapsed > running_limit_seconds:
                found.append(("MEDIUM", status, _running_detail(status, elapsed)))
        elif status.state is State.PENDING and not report.running:  # a running deploy is applying them
            since = pending_since(status)
            if since is not None and (now - since).total_seconds() > grace_seconds:
                found.append(("MEDIUM", status, f"pending for {format_duration(now - since)}"))
    if not found:
        pending = len(report.pending)
        summary = f"{report.count(State.APPLIED)} applied" + (f", {pending} pending within grace" if pending else "")
        for status in report.running:
            who = f" by pid {status.in_flight.session.pid}" if status.in_flight else ""
            summary += f", {status.name} running{who} for {format_duration(running_for(status, now))}"
        return Outcome(summary, 0, "migrations")
    severity = max_severity([f[0] for f in found])
    first = found[0][1]
    lines = [f"- {s.name}: {s.state.value} ({detail})" for _, s, detail in found]
    suggestions: list[str] = []
    for _, status, _ in found:
        if status.state is State.RUNNING and status.in_flight is not None:
            pid = status.in_flight.session.pid
            suggestions.append(f"SELECT pid, state, wait_event_type, wait_event, now() - query_start AS running_for, "
                               f"pg_blocking_pids(pid) AS blocked_by, query FROM pg_stat_activity WHERE pid = {pid};")
            continue
        if status.suggestion and status.suggestion not in suggestions:
            suggestions.append(status.suggestion)
    suggestions.append("migration-guard status   # full picture of every migration")
    states = sorted({s.state.value for _, s, _ in found})
    title = (f"Migration {first.name} {first.state.value.replace('_', ' ')}" if len(found) == 1
             else f"{len(found)} migrations need attention ({', '.join(states)})")
    impact = ("Deploys are blocked: the next `migrate deploy` refuses to run until this is resolved, "
              "and the schema may be half-changed." if severity == "HIGH"
              else "A migration has been running far longer than expected: it may be waiting on a lock or "
              "blocking other sessions, and the deploy waits for it." if all(s.state is State.RUNNING for _, s, _ in found)
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
    # a running migration that outlives the threshold and then fails is a new problem (new key)
    if any(s.state is State.PENDING for s in statuses):
        parts.add("pending")
    return ",".join(sorted(parts))


def _running_detail(status: MigrationStatus, elapsed: float) -> str:
    if status.in_flight is None:
        return f"running for {format_duration(elapsed)}"
    session = status.in_flight.session
    return (f"running for {format_duration(elapsed)} in pid {session.pid} (application {session.application}, "
            f"{session.state or '?'}; {status.in_flight.confidence} confidence); current statement: "
            f"{session.current_statement or '(none)'}")


CHECK = Check(NAME, "failed / modified / missing-locally migrations, pending ones past the grace period, and "
              "running ones past the running-migration threshold", run, applies)

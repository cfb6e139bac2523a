"""Another migration (this tool or the migration tool itself) holds the migration advisory lock:
FAIL, or WARN when the holder is a migration running right now (wait for it; never end it)."""

from __future__ import annotations

from migration_guard.tasks.catalog import advisory_lock_holders
from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.status.pipeline import read_status
from migration_guard.tasks.validate.base import Check, check_connection
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult, CheckStatus


def run(ctx: ValidationContext) -> CheckResult:
    key = ctx.project.ledger.lock_key
    with check_connection(ctx) as conn:
        holders = advisory_lock_holders(conn, key)
    if not holders:
        return CHECK.result(CheckStatus.PASS, f"the migration lock pg_advisory_lock({key}) is free")
    details = [f"{h.describe()} (held {h.age_seconds or 0:.0f} s)" for h in holders]
    data = {"holders": [{"pid": h.pid, "user": h.usename, "application": h.application_name} for h in holders]}
    running = _running_migration(ctx)
    if running is not None:
        return CHECK.result(
            CheckStatus.WARN, f"the migration lock pg_advisory_lock({key}) is held by the running migration {running}",
            details, fix="wait for it to finish (migration-guard status shows it); migrate waits for the lock itself",
            **data)
    return CHECK.result(
        CheckStatus.FAIL, f"another migration holds the migration lock (pg_advisory_lock({key}))", details,
        fix="wait for it to finish; if it is stuck, end it: SELECT pg_terminate_backend(" + str(holders[0].pid) + ");",
        **data)


def _running_migration(ctx: ValidationContext) -> str | None:
    """The name of the migration a live session is applying now, if the status says one is."""
    try:
        report = read_status(ctx.project)
    except MigrationGuardError:
        return None
    return report.running[0].name if report.running else None


CHECK = Check("advisory-lock", "Migration lock free", run,
              why="two migrations at once corrupt the ledger and each other's schema changes")

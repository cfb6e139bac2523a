"""Another migration (this tool or the migration tool itself) holds the migration advisory lock."""

from __future__ import annotations

from migration_guard.tasks.catalog import advisory_lock_holders
from migration_guard.tasks.validate.base import Check, check_connection
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult, CheckStatus


def run(ctx: ValidationContext) -> CheckResult:
    key = ctx.project.ledger.lock_key
    with check_connection(ctx) as conn:
        holders = advisory_lock_holders(conn, key)
    if holders:
        return CHECK.result(
            CheckStatus.FAIL, f"another migration holds the migration lock (pg_advisory_lock({key}))",
            [f"{h.describe()} (held {h.age_seconds or 0:.0f} s)" for h in holders],
            fix="wait for it to finish; if it is stuck, end it: SELECT pg_terminate_backend(" + str(holders[0].pid) + ");",
            holders=[{"pid": h.pid, "user": h.usename, "application": h.application_name} for h in holders])
    return CHECK.result(CheckStatus.PASS, f"the migration lock pg_advisory_lock({key}) is free")


CHECK = Check("advisory-lock", "Migration lock free", run,
              why="two migrations at once corrupt the ledger and each other's schema changes")

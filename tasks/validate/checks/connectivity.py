"""Connectivity (with the configured timeout), server version, and not a read-only standby."""

from __future__ import annotations

import time

from migration_guard.tasks.errors import DatabaseError
from migration_guard.tasks.retry import is_transient
from migration_guard.tasks.validate.base import Check, check_connection
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult, CheckStatus

MIN_SUPPORTED_MAJOR = 12


def run(ctx: ValidationContext) -> CheckResult:
    started = time.monotonic()
    try:
        with check_connection(ctx) as conn:
            version, in_recovery = conn.execute("SELECT current_setting('server_version'), pg_is_in_recovery()").fetchone()
            major = int(conn.info.server_version) // 10000
        version = str(version).split()[0]
    except DatabaseError as exc:
        if is_transient(exc):
            raise
        return CHECK.result(CheckStatus.FAIL, exc.message, fix=exc.suggestion, kind=exc.kind)
    elapsed_ms = (time.monotonic() - started) * 1000
    where = ctx.project.target
    if in_recovery:
        return CHECK.result(CheckStatus.FAIL, f"{where} is a read-only standby (in recovery)",
                            fix="point DATABASE_URL at the primary", server_version=version)
    if major < MIN_SUPPORTED_MAJOR:
        return CHECK.result(CheckStatus.WARN, f"PostgreSQL {version} at {where} is older than {MIN_SUPPORTED_MAJOR}; "
                            "lock and lint advice assumes 12 or newer", fix="upgrade PostgreSQL", server_version=version)
    return CHECK.result(CheckStatus.PASS, f"PostgreSQL {version} at {where} answered in {elapsed_ms:.0f} ms",
                        server_version=version, connect_ms=round(elapsed_ms, 1))


CHECK = Check("connectivity", "Connectivity and server version", run,
              why="nothing else can be checked, or migrated, without a writable primary")

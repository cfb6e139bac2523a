"""connectivity: can we open a session and run a query, and how long does it take.

The runner opens the connection (with CONNECT_TIMEOUT) before any check; this module turns a
failure into a Problem classified by SQLSTATE (DATABASE_CONNECTION / TIMEOUT / PERMISSION), and
a success into the round-trip latency.
"""

from __future__ import annotations

import time

from migration_guard.tasks.checks.check import Check
from migration_guard.tasks.healthcheck.base import CheckContext, Outcome, Problem
from migration_guard.tasks.db import with_connection_values
from migration_guard.tasks.errors import DatabaseError

NAME = "connectivity"


def run(ctx: CheckContext) -> Outcome:
    """Round trip of ``SELECT 1`` on the open connection, in milliseconds."""
    started = time.perf_counter()
    ctx.conn.execute("SELECT 1").fetchone()
    elapsed = (time.perf_counter() - started) * 1000
    return Outcome(f"connected, SELECT 1 in {elapsed:.1f} ms", round(elapsed, 2), "ms")


def failure(error: DatabaseError, database: str, dsn: str = "") -> Outcome:
    """The outcome when the connection could not be opened (the other checks become UNKNOWN)."""
    titles = {
        "PERMISSION": f"Database {database} refuses our login",
        "TIMEOUT": f"Database {database} does not answer in time",
    }
    suggestions = [s for s in (error.suggestion,) if s]
    if "pg_isready" not in error.suggestion:
        suggestions.append(with_connection_values("pg_isready -h HOST -p PORT   # is the server accepting connections?",
                                                  dsn))
    suggestions.append("migration-guard healthcheck   # re-run after fixing; the alert resolves itself")
    return Outcome(
        f"cannot connect: {error.message}",
        None, None,
        Problem(
            severity="HIGH",
            category=str(error.category),
            title=titles.get(str(error.category), f"Cannot reach database {database}"),
            message=f"The healthcheck could not connect to {database}: {error.message}",
            impact="The application cannot read or write data; every request touching the database fails.",
            suggestions=tuple(suggestions),
            original_error=error.original or error.message,
        ),
    )


CHECK = Check(NAME, "open a session within CONNECT_TIMEOUT and run SELECT 1", run)

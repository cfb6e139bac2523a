"""The shape of a check: a name, a title, and ``run(ctx) -> CheckResult``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from migration_guard.tasks.db import connection
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult, CheckStatus


@dataclass(frozen=True)
class Check:
    """One validation check.

    Attributes:
        name: stable identifier (JSON, task names).
        title: for people.
        run: the check; returns a result, raises only for failures a retry may fix
            (a classified DatabaseError) — the runner turns anything raised into FAIL.
        needs_database: skipped when the database is unreachable.
        why: what goes wrong if this is ignored (shown in docs).
    """

    name: str
    title: str
    run: Callable[[ValidationContext], CheckResult]
    needs_database: bool = True
    why: str = ""

    def result(self, status: CheckStatus, reason: str, details: list[str] | tuple[str, ...] = (), fix: str = "",
               **data: object) -> CheckResult:
        """A :class:`CheckResult` for this check."""
        return CheckResult(self.name, self.title, status, reason, tuple(details), fix, dict(data))


#: checks never queue behind other sessions' locks: they would hang validation instead of reporting
CHECK_SESSION_OPTIONS = "-c lock_timeout=2000 -c statement_timeout=30000"


def check_connection(ctx: ValidationContext):  # -> ContextManager[psycopg.Connection]
    """A short-lived autocommit connection for one check (lock_timeout 2 s, statement_timeout 30 s)."""
    return connection(ctx.dsn, connect_timeout=ctx.connect_timeout, options=CHECK_SESSION_OPTIONS)


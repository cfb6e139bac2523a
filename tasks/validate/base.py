"""The shape of a validate check on the check kernel: ``Check(name, title, run, why=...)`` with
``run(ctx) -> CheckResult``, and the short-lived connection every check reads through."""

from __future__ import annotations

from dataclasses import dataclass

from migration_guard.tasks.checks import check as kernel
from migration_guard.tasks.db import connection
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult, CheckStatus


@dataclass(frozen=True)
class Check(kernel.Check[ValidationContext, CheckResult]):
    """One validate check: the kernel's :class:`~migration_guard.tasks.checks.check.Check` whose
    ``description`` is the title people read, and which builds its own results.

    ``run`` returns a result and raises only for failures a retry may fix (a classified
    DatabaseError); the runner turns anything raised into FAIL.
    """

    @property
    def title(self) -> str:
        """What is checked, for people (the report's first column)."""
        return self.description

    def result(self, status: CheckStatus, reason: str, details: list[str] | tuple[str, ...] = (), fix: str = "",
               **data: object) -> CheckResult:
        """A :class:`CheckResult` for this check."""
        return CheckResult(self.name, self.title, status, reason, tuple(details), fix, dict(data))


#: checks never queue behind other sessions' locks: they would hang validate instead of reporting
CHECK_SESSION_OPTIONS = "-c lock_timeout=2000 -c statement_timeout=30000"


def check_connection(ctx: ValidationContext):  # -> ContextManager[psycopg.Connection]
    """A short-lived autocommit connection for one check (lock_timeout 2 s, statement_timeout 30 s)."""
    return connection(ctx.dsn, connect_timeout=ctx.connect_timeout, options=CHECK_SESSION_OPTIONS)

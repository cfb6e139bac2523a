"""What every check may look at: the project, the options, and (once read) the migration status."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from migration_guard.tasks.models import Migration, StatusReport
from migration_guard.tasks.project import Project


@dataclass(frozen=True)
class ValidationOptions:
    """Thresholds and switches.

    Attributes:
        idle_in_transaction_seconds: a session idle in an open transaction this long is reported
            (WARN: apply waits it out within its retry budget; it blocks only what its locks conflict with).
        long_transaction_seconds: a transaction open this long WARNs (it delays DDL and concurrent builds).
        lock_min_age_seconds: conflicting table locks held by transactions younger than this are
            ignored (a 5 ms query is not a blocker).
        backup: take (and verify) a backup as the last check.
        restore_check: verify that backup by restoring it into a scratch database.
        strict: WARN counts as FAIL.
        backup_reason: the reason stored with the backup.
        backup_lock_wait_timeout: pg_dump --lock-wait-timeout (a table locked exclusively fails
            the backup after this long instead of hanging it).
        lock_timeout: the lock_timeout each apply attempt runs under (None: the project's LOCK_TIMEOUT);
            a blocker is something apply can wait out only when this bounds the wait.
        retry_budget_s: seconds apply keeps retrying a statement that hits lock_timeout (None: the
            project's MIGRATE_RETRY_BUDGET).
    """

    idle_in_transaction_seconds: float = 5.0
    long_transaction_seconds: float = 300.0
    lock_min_age_seconds: float = 1.0
    backup: bool = True
    restore_check: bool = False
    strict: bool = False
    backup_reason: str = "pre-migrate"
    backup_lock_wait_timeout: str = "60s"
    lock_timeout: str | None = None
    retry_budget_s: float | None = None


@dataclass(frozen=True)
class ValidationContext:
    """The input of every check (plain data; checks do their own short database reads)."""

    project: Project
    options: ValidationOptions = field(default_factory=ValidationOptions)
    status: StatusReport | None = None
    status_error: str | None = None

    @property
    def dsn(self) -> str:
        return self.project.dsn

    @property
    def schema(self) -> str:
        return self.project.schema

    @property
    def backup_dir(self) -> Path:
        return Path(self.project.settings.backup_dir)

    @property
    def apply_lock_timeout(self) -> str:
        """The lock_timeout of each apply attempt (the option, else LOCK_TIMEOUT)."""
        return str(self.options.lock_timeout if self.options.lock_timeout is not None else self.project.settings.lock_timeout)

    @property
    def apply_retry_budget_s(self) -> float:
        """Seconds apply retries a statement that hits lock_timeout (the option, else MIGRATE_RETRY_BUDGET)."""
        budget = self.options.retry_budget_s
        return float(budget if budget is not None else self.project.settings.migrate_retry_budget)

    @property
    def connect_timeout(self) -> int:
        return self.project.settings.connect_timeout

    def with_status(self, status: StatusReport | None, error: str | None = None) -> ValidationContext:
        return replace(self, status=status, status_error=error)

    @property
    def pending_migrations(self) -> list[Migration]:
        """Migrations the next migrate would apply, in order (empty until the status is read)."""
        if self.status is None:
            return []
        return [s.migration for s in self.status.pending if s.migration is not None]

    def planned_locks(self) -> dict[tuple[str, str], str]:
        """The strongest lock mode the pending migrations take on each (schema, table), in order."""
        from migration_guard.tasks.sql.locks import LOCK_MODES, lock_for
        from migration_guard.tasks.sql.statements import split_statements

        modes: dict[tuple[str, str], str] = {}
        for migration in self.pending_migrations:
            for statement in split_statements(migration.sql, str(migration.path)):
                for lock in lock_for(statement, self.schema):
                    if lock.kind != "table":
                        continue
                    current = modes.get(lock.key)
                    if current is None or LOCK_MODES.index(lock.mode) > LOCK_MODES.index(current):
                        modes[lock.key] = lock.mode
        return modes

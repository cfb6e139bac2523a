"""The exception hierarchy: one base error, a subclass per failure with the fields handlers need.

Every error carries a one-line ``message`` safe to show (no secrets) and a ``suggestion`` saying
what to do; the CLI prints ``error: <message>`` and ``hint: <suggestion>`` and exits, no traceback.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """Alert / error categories (the seed's, plus the ones checks need)."""

    DATABASE_CONNECTION = "DATABASE_CONNECTION"
    DATABASE_MIGRATION = "DATABASE_MIGRATION"
    TIMEOUT = "TIMEOUT"
    PERMISSION = "PERMISSION"
    DATABASE_HEALTH = "DATABASE_HEALTH"
    BACKUP = "BACKUP"
    BUSINESS = "BUSINESS"
    CONFIGURATION = "CONFIGURATION"
    UNKNOWN = "UNKNOWN"


class MigrationGuardError(Exception):
    """Base of every error migration-guard raises on purpose."""

    category: Category = Category.UNKNOWN

    def __init__(self, message: str, suggestion: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.suggestion = suggestion

    def __str__(self) -> str:
        return self.message


class ConfigError(MigrationGuardError):
    """Bad configuration or usage: a missing variable, an invalid value, a missing folder."""

    category = Category.CONFIGURATION


class MigrationFileError(MigrationGuardError):
    """A migration on disk cannot be read (unreadable, not UTF-8, missing migration.sql)."""

    category = Category.DATABASE_MIGRATION

    def __init__(self, message: str, suggestion: str = "", path: str | None = None) -> None:
        super().__init__(message, suggestion)
        self.path = path


class LedgerError(MigrationGuardError):
    """The migration ledger table is unreadable or inconsistent."""

    category = Category.DATABASE_MIGRATION


class DatabaseError(MigrationGuardError):
    """A classified database failure.

    Attributes:
        category: DATABASE_CONNECTION, PERMISSION, TIMEOUT ...
        kind: finer reason: connection_refused, dns_failure, timeout, bad_password,
            missing_database, permission, lock_timeout, statement_timeout, other.
        sqlstate: the SQLSTATE when the server sent one.
    """

    def __init__(
        self,
        message: str,
        suggestion: str = "",
        *,
        category: Category = Category.UNKNOWN,
        kind: str = "other",
        sqlstate: str | None = None,
        original: str = "",
    ) -> None:
        super().__init__(message, suggestion)
        self.category = category
        self.kind = kind
        self.sqlstate = sqlstate
        self.original = original

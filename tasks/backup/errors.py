"""Backup failures: one base class (category BACKUP), a subclass per way a backup can go wrong."""

from __future__ import annotations

from migration_guard.tasks.errors import Category, MigrationGuardError

#: what pg_dump / pg_restore print when their session dies (a server restart, an ended backend)
_LOST_CONNECTION_TEXTS = ("server closed the connection", "terminating connection", "connection to server",
                          "the database system is shutting down", "the database system is starting up",
                          "could not receive data from server", "no connection to the server", "connection refused")


def connection_lost(tool_error: str) -> bool:
    """True when a client tool's error says its connection went away, not that the data is bad."""
    lowered = tool_error.lower()
    return any(text in lowered for text in _LOST_CONNECTION_TEXTS)


class BackupError(MigrationGuardError):
    """A backup could not be created, verified or restored."""

    category = Category.BACKUP


class BackupToolError(BackupError):
    """No usable pg_dump / pg_restore (missing, or older than the server)."""


class BackupSpaceError(BackupError):
    """Not enough free disk for the backup (checked before starting, or ENOSPC while writing).

    Attributes:
        needed_bytes: the estimate (0 when the disk filled up during the dump).
        free_bytes: free space in the backup folder when detected.
    """

    def __init__(self, message: str, suggestion: str = "", *, needed_bytes: int = 0, free_bytes: int = 0) -> None:
        super().__init__(message, suggestion)
        self.needed_bytes = needed_bytes
        self.free_bytes = free_bytes


class BackupCorruptError(BackupError):
    """The dump is unreadable: truncated, damaged, or its checksum does not match its metadata."""


class BackupMismatchError(BackupError):
    """A restore check found per-table row counts that differ from the source.

    Attributes:
        mismatches: (table, rows in the backup, rows in the source now) for each difference.
    """

    def __init__(self, message: str, suggestion: str = "", *, mismatches: list[tuple[str, int, int]] | None = None) -> None:
        super().__init__(message, suggestion)
        self.mismatches = mismatches or []


class BackupNotFoundError(BackupError):
    """The backup path does not exist or is not a backup."""

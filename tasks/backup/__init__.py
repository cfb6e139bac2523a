"""Verified backups with real pg_dump / pg_restore.

Modules: ``tools`` (find client tools >= server major), ``client`` (run them; password only via
PGPASSWORD), ``sizing`` (format choice, size estimate, free-disk check), ``create``, ``verify``,
``restore``, ``retention``, ``metadata`` (BackupInfo + JSON beside each dump), ``files``,
``scratch`` (scratch databases, row counts).
"""

from migration_guard.tasks.backup.create import BackupPreflight, BackupProgress, create_backup, preflight
from migration_guard.tasks.backup.errors import (
    BackupCorruptError,
    BackupError,
    BackupMismatchError,
    BackupNotFoundError,
    BackupSpaceError,
    BackupToolError,
)
from migration_guard.tasks.backup.metadata import BackupInfo, list_backups, read_metadata
from migration_guard.tasks.backup.restore import RestorePlan, RestoreResult, plan_restore, restore_backup
from migration_guard.tasks.backup.retention import apply_retention, select_expired
from migration_guard.tasks.backup.verify import VerifyResult, verify_backup

__all__ = [
    "BackupCorruptError", "BackupError", "BackupInfo", "BackupMismatchError", "BackupNotFoundError",
    "BackupPreflight", "BackupProgress", "BackupSpaceError", "BackupToolError", "RestorePlan", "RestoreResult",
    "VerifyResult", "apply_retention", "create_backup", "list_backups", "plan_restore", "preflight",
    "read_metadata", "restore_backup", "select_expired", "verify_backup",
]

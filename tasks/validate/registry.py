"""Every validation check, in the order they run (cheap and decisive first, the backup last)."""

from __future__ import annotations

from migration_guard.tasks.checks.registry import Registry
from migration_guard.tasks.validate.base import Check
from migration_guard.tasks.validate.checks import (
    advisory_lock,
    backup,
    backup_room,
    connectivity,
    invalid_indexes,
    ledger_state,
    lint,
    privileges,
    table_locks,
    transactions,
)

CONNECTIVITY = connectivity.CHECK
LEDGER = ledger_state.CHECK
BACKUP = backup.CHECK

#: checks that run after connectivity and the status read, before the backup
CHECKS: tuple[Check, ...] = (
    privileges.CHECK,
    LEDGER,
    lint.CHECK,
    transactions.CHECK,
    table_locks.CHECK,
    advisory_lock.CHECK,
    invalid_indexes.CHECK,
    backup_room.CHECK,
)

#: every check, in order: connectivity, then CHECKS, the backup last
REGISTRY: Registry[Check] = Registry([CONNECTIVITY, *CHECKS, BACKUP])
ALL_CHECKS: tuple[Check, ...] = REGISTRY.checks


def get_check(name: str) -> Check:
    """The check called ``name`` (KeyError when unknown)."""
    return REGISTRY.get(name)

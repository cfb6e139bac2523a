"""A statement that waits for a strong lock on an existing table with no lock_timeout set before it."""

from pglast import ast

from migration_guard.tasks.lint.registry import Rule, Violation
from migration_guard.tasks.lint.timeouts import describe_lock, unguarded_lock

_QUEUEING_MODES = {"SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE"}


def _queues_traffic(node, lock) -> bool:
    """A lock mode whose waiting request makes later reads or writes queue behind it."""
    return lock.mode in _QUEUEING_MODES


def check(statement, state):
    lock = unguarded_lock(statement, state, "lock_timeout", _queues_traffic)
    if lock is None:
        return
    yield Violation(
        f"{describe_lock(lock)} with no lock_timeout set in this file: if another session holds a lock, every "
        "query on the table queues behind this statement",
        table=lock.key if lock.kind == "table" else None,
    )


RULE = Rule(
    code="missing-lock-timeout",
    severity="info",
    category="robustness",
    summary="A strong lock on an existing table is requested with no lock_timeout set first in the file.",
    problem=(
        "A statement waiting for a lock blocks every later query on the table, even plain SELECTs, for as "
        "long as the holder keeps it (a long report, an idle transaction). `migration-guard migrate` sets "
        "lock_timeout (LOCK_TIMEOUT) and retries; `prisma migrate deploy` and psql do not."
    ),
    fix=(
        "Fail fast instead of queueing, and retry:\n"
        "  SET lock_timeout = '2s';\n  ALTER TABLE \"User\" ADD COLUMN \"bio\" text;\n"
        "or run the migration through `migration-guard migrate`, which sets it."
    ),
    nodes=(ast.Node,),
    check=check,
)

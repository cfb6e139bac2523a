"""A statement that waits for a strong lock on an existing table with no lock_timeout set before it."""

from pglast import ast

from migration_guard.tasks.lint.nodes import qualified
from migration_guard.tasks.lint.registry import Rule, Violation
from migration_guard.tasks.sql.locks import lock_for

_QUEUEING_MODES = {"SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE"}


def check(statement, state):
    if state.nested is not None or statement.index != _first_blocking_index(state):
        return
    lock = _blocking_lock(statement, state, set())
    if lock is None:
        return
    yield Violation(
        f"{lock.mode} lock on {qualified(lock.key)} with no lock_timeout set in this file: if another session holds "
        "a lock, every query on the table queues behind this statement",
        table=lock.key,
    )


def _first_blocking_index(state) -> int:
    if "missing-lock-timeout" in state.memo:
        return state.memo["missing-lock-timeout"]
    index = -1
    created: set[tuple[str, str]] = set()
    for statement in state.statements:
        node = statement.node
        if isinstance(node, ast.VariableSetStmt) and node.name == "lock_timeout":
            break
        if node is not None and _blocking_lock(statement, state, created) is not None:
            index = statement.index
            break
    state.memo["missing-lock-timeout"] = index
    return index


def _blocking_lock(statement, state, created: set[tuple[str, str]]):
    """The first strong lock on a table that exists before this file (``created`` collects the
    tables the file creates as the first pass goes)."""
    locks = lock_for(statement.node, state.context.default_schema)
    created.update(lock.key for lock in locks if lock.creates)
    for lock in locks:
        if (lock.kind == "table" and lock.mode in _QUEUEING_MODES and not lock.creates
                and lock.key not in created and not state.is_new(lock.key)):
            return lock
    return None


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

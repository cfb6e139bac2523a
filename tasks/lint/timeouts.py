"""The first statement of a file that waits for a lock on an existing table or index before the file sets
a timeout: shared by missing-lock-timeout and require-statement-timeout (each reports it once per file)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pglast import ast, enums

from migration_guard.tasks.lint.nodes import qualified
from migration_guard.tasks.sql.locks import StatementLock, lock_for, option_is_on, relation_key

LockFilter = Callable[[Any, StatementLock], bool]


def sets_timeout(node: Any, setting: str) -> bool:
    """True for ``SET [LOCAL] <setting> = <value>`` with a value other than 0 (0 switches the timeout off;
    RESET and SET ... TO DEFAULT restore the role's own value, which may be none)."""
    if not isinstance(node, ast.VariableSetStmt) or node.name != setting:
        return False
    if node.kind != enums.VariableSetKind.VAR_SET_VALUE or not node.args:
        return False
    value = getattr(node.args[0], "val", None)
    if isinstance(value, ast.Integer):
        return value.ival != 0
    if isinstance(value, ast.String):
        return value.sval.strip() not in ("0", "")
    return True


def unguarded_lock(statement: Any, state: Any, setting: str, accepts: LockFilter) -> StatementLock | None:
    """The lock to report on ``statement`` when it is the file's first unguarded one (see
    :func:`first_unguarded`), else None; SQL inside DO blocks and functions is never reported."""
    if state.nested is not None:
        return None
    index, lock = first_unguarded(state, setting, accepts)
    return lock if statement.index == index else None


def describe_lock(lock: StatementLock) -> str:
    """``ACCESS EXCLUSIVE lock on orders`` / ``... lock on index orders_pkey`` for messages."""
    return f"{lock.mode} lock on {'index ' if lock.kind == 'index' else ''}{qualified(lock.key)}"


def first_unguarded(state: Any, setting: str, accepts: LockFilter) -> tuple[int, StatementLock | None]:
    """(index, lock) of the first top-level statement whose lock on an object that exists before the file
    ``accepts`` approves, unless ``SET <setting>`` comes first; (-1, None) when there is none. Computed once
    per file (``state.memo``)."""
    memo_key = f"first-unguarded:{setting}:{accepts.__module__}.{accepts.__qualname__}"
    if memo_key in state.memo:
        return state.memo[memo_key]
    found: tuple[int, StatementLock | None] = (-1, None)
    created: set[tuple[str, str]] = set()
    for statement in state.statements:
        node = statement.node
        if node is None:
            continue
        if sets_timeout(node, setting):
            break
        lock = _existing_lock(node, state, created, accepts)
        if lock is not None:
            found = (statement.index, lock)
            break
    state.memo[memo_key] = found
    return found


def _existing_lock(node: Any, state: Any, created: set[tuple[str, str]], accepts: LockFilter) -> StatementLock | None:
    """The first lock ``accepts`` on a table or index that exists before this file (``created`` collects what
    the file creates as the pass goes)."""
    context = state.context
    locks = lock_for(node, context.default_schema)
    created.update(lock.key for lock in locks if lock.creates)
    if isinstance(node, ast.IndexStmt) and node.idxname and node.relation is not None:
        created.add((relation_key(node.relation, context.default_schema)[0], node.idxname))
    for lock in locks:
        if lock.creates or lock.key in created or lock.kind not in ("table", "index"):
            continue
        if state.is_new(lock.key) or (lock.kind == "index" and lock.key in context.new_indexes):
            continue
        if accepts(node, lock):
            return lock
    return None


def runs_concurrently(node: Any) -> bool:
    """CREATE / DROP INDEX, REINDEX, REFRESH MATERIALIZED VIEW or DETACH PARTITION ... CONCURRENTLY: built to
    run for a long time without blocking reads or writes."""
    if isinstance(node, (ast.IndexStmt, ast.DropStmt, ast.RefreshMatViewStmt)):
        return bool(node.concurrent)
    if isinstance(node, ast.ReindexStmt):
        return option_is_on(node.params, "concurrently")
    if isinstance(node, ast.AlterTableStmt):
        return any(isinstance(cmd, ast.AlterTableCmd) and isinstance(cmd.def_, ast.PartitionCmd) and cmd.def_.concurrent
                   for cmd in node.cmds or ())
    return False

"""DDL that locks an existing table or index with no statement_timeout set before it in the file."""

from pglast import ast

from migration_guard.tasks.lint.registry import Rule, Violation
from migration_guard.tasks.lint.timeouts import describe_lock, runs_concurrently, unguarded_lock

#: Modes plain reads and writes take; statements taking only these (SELECT, INSERT, UPDATE, ...) are not
#: schema changes. An explicit LOCK TABLE in any mode is.
_DATA_MODES = {"ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE"}


def _holds_a_schema_lock(node, lock) -> bool:
    """A schema change (or an explicit LOCK TABLE) on a live object, except the CONCURRENTLY forms, which are
    meant to run long and would leave an INVALID index behind when cancelled."""
    if runs_concurrently(node):
        return False
    return isinstance(node, ast.LockStmt) or lock.mode not in _DATA_MODES


def check(statement, state):
    lock = unguarded_lock(statement, state, "statement_timeout", _holds_a_schema_lock)
    if lock is None:
        return
    yield Violation(
        f"{describe_lock(lock)} with no statement_timeout set in this file: if the statement waits or runs long "
        "(an unexpected rewrite, a scan of a big table), it holds or queues for the lock with no upper bound"
    )


RULE = Rule(
    code="require-statement-timeout",
    severity="info",
    category="robustness",
    summary="A schema change on an existing table or index with no statement_timeout set first in the file.",
    problem=(
        "Without statement_timeout nothing stops a migration statement that turns out slow: a type change "
        "that rewrites a large table, a constraint check scanning it, or a wait behind another session keeps "
        "its lock (ACCESS EXCLUSIVE: no reads or writes) for as long as it runs. lock_timeout bounds only the "
        "wait for the lock, not the work. `migration-guard migrate` applies STATEMENT_TIMEOUT (default: the "
        "role's own setting); `prisma migrate deploy` and psql use the role's setting, often none. "
        "CONCURRENTLY statements are exempt: they are meant to run long without blocking anyone."
    ),
    fix=(
        "Set a bound above what the statements need on your largest data, first in the file; a statement "
        "over it fails and its transaction rolls back:\n"
        "  SET statement_timeout = '1min';\n  ALTER TABLE \"User\" ADD COLUMN \"bio\" text;\n"
        "or run the migration through `migration-guard migrate` with STATEMENT_TIMEOUT=1min."
    ),
    nodes=(ast.Node,),
    check=check,
)

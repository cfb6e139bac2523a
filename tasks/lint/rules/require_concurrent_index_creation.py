"""CREATE INDEX without CONCURRENTLY on an existing table."""

from pglast import ast
from pglast.stream import RawStream

from migration_guard.tasks.lint.nodes import qualified
from migration_guard.tasks.lint.registry import Rule, Violation
from migration_guard.tasks.sql.identifiers import quoted_if_needed


def check(statement, state):
    node = statement.node
    if node.concurrent or node.relation is None:
        return
    key = state.existing(node.relation)
    if key is not None:
        yield Violation(f"CREATE INDEX {node.idxname or ''} on {qualified(key)} without CONCURRENTLY blocks writes".replace("  ", " "),
                        table=key, fix=_own_fix(node))


def _own_fix(node: ast.IndexStmt) -> str | None:
    """This statement built concurrently (IF NOT EXISTS, so a retry after a failure is safe), or
    None for an unnamed index (a retry would build a second one: the generic fix says to name it)."""
    if not node.idxname:
        return None
    was = node.concurrent, node.if_not_exists
    node.concurrent, node.if_not_exists = True, True  # printed, then put back (a deep copy costs 10x)
    try:
        statement = RawStream()(node)
    finally:
        node.concurrent, node.if_not_exists = was
    name = quoted_if_needed(node.idxname)
    return ("Build it concurrently, outside a transaction block, in its own migration:\n"
            f"  {statement};\n"
            f"If it fails it leaves an INVALID index: run DROP INDEX CONCURRENTLY IF EXISTS {name}; and retry.")


RULE = Rule(
    code="require-concurrent-index-creation",
    severity="error",
    category="index",
    summary="CREATE INDEX on an existing table without CONCURRENTLY.",
    problem=(
        "CREATE INDEX takes a SHARE lock: every INSERT, UPDATE and DELETE on the table waits until the "
        "whole index is built, minutes on a large table, and queues everything behind it."
    ),
    fix=(
        "Build it concurrently, outside a transaction block, in its own migration:\n"
        "  CREATE INDEX CONCURRENTLY IF NOT EXISTS \"Post_authorId_idx\" ON \"Post\" (\"authorId\");\n"
        "If it fails it leaves an INVALID index: DROP INDEX CONCURRENTLY it and retry."
    ),
    nodes=(ast.IndexStmt,),
    check=check,
    blocking=True,
)

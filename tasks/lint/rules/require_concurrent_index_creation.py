"""CREATE INDEX without CONCURRENTLY on an existing table."""

from pglast import ast

from migration_guard.tasks.lint.nodes import qualified
from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    node = statement.node
    if node.concurrent or node.relation is None:
        return
    key = state.existing(node.relation)
    if key is not None:
        yield Violation(f"CREATE INDEX {node.idxname or ''} on {qualified(key)} without CONCURRENTLY blocks writes".replace("  ", " "), table=key)


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

"""UPDATE or DELETE without WHERE on an existing table."""

from pglast import ast

from migration_guard.tasks.lint.nodes import qualified
from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    node = statement.node
    if node.whereClause is not None or node.relation is None:
        return
    key = state.existing(node.relation)
    if key is None:
        return
    verb = "UPDATE" if isinstance(node, ast.UpdateStmt) else "DELETE"
    yield Violation(f"{verb} {qualified(key)} without WHERE touches every row in one transaction", table=key)


RULE = Rule(
    code="dml-without-where",
    severity="warning",
    category="destructive",
    summary="UPDATE or DELETE without a WHERE clause on an existing table.",
    problem=(
        "Every row is changed (or deleted) in one transaction: all rows stay locked until the migration "
        "commits, the table bloats, replicas lag, and a mistake hits everything."
    ),
    fix=(
        "Backfill in bounded batches, outside the schema migration when the table is large:\n"
        "  UPDATE \"User\" SET \"plan\" = 'free' WHERE \"plan\" IS NULL AND id BETWEEN 1 AND 10000; -- repeat\n"
        "If the table is small and all rows are meant, say so with WHERE true."
    ),
    nodes=(ast.UpdateStmt, ast.DeleteStmt),
    check=check,
    blocking=True,
)

"""REINDEX without CONCURRENTLY."""

from pglast import ast, enums

from migration_guard.tasks.lint.registry import Rule, Violation
from migration_guard.tasks.sql.locks import option_is_on


def check(statement, state):
    node = statement.node
    if option_is_on(node.params, "concurrently"):  # (CONCURRENTLY false) is a plain REINDEX
        return
    if node.kind == enums.ReindexObjectType.REINDEX_OBJECT_SYSTEM:
        return  # PostgreSQL refuses REINDEX SYSTEM CONCURRENTLY: there is no safer spelling to suggest
    if node.relation is not None:
        key = state.key(node.relation)
        if state.is_new(key):
            return
        yield Violation(f"REINDEX {node.relation.relname} without CONCURRENTLY blocks writes (and reads of the index)", table=key)
    else:
        yield Violation(f"REINDEX {node.name or ''} without CONCURRENTLY locks every table it reindexes".replace("  ", " "))


RULE = Rule(
    code="require-concurrent-reindex",
    severity="error",
    category="index",
    summary="REINDEX without CONCURRENTLY (REINDEX SYSTEM excepted: it cannot run concurrently).",
    problem=(
        "REINDEX takes an ACCESS EXCLUSIVE lock on the index (and SHARE on the table): writes, and the "
        "queries that use the index, wait for the whole rebuild."
    ),
    fix="Rebuild concurrently (PostgreSQL >= 12), outside a transaction block:\n  REINDEX INDEX CONCURRENTLY \"Post_authorId_idx\";",
    nodes=(ast.ReindexStmt,),
    check=check,
    blocking=True,
)

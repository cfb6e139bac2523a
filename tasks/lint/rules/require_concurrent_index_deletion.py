"""DROP INDEX without CONCURRENTLY."""

from pglast import ast, enums

from migration_guard.tasks.lint.registry import Rule, Violation
from migration_guard.tasks.sql.identifiers import qualified_if_needed, quoted_if_needed
from migration_guard.tasks.sql.locks import name_key


def check(statement, state):
    node = statement.node
    if node.removeType != enums.ObjectType.OBJECT_INDEX or node.concurrent:
        return
    for names in node.objects or ():
        schema, index = name_key(names, state.context.default_schema)
        if (schema, index) in state.context.new_indexes:
            continue
        written = qualified_if_needed(schema, index) if len(names) > 1 else quoted_if_needed(index)
        yield Violation(f"DROP INDEX {index} without CONCURRENTLY locks its table against reads and writes",
                        fix="Drop it concurrently, outside a transaction block (one index per statement):\n"
                            f"  DROP INDEX CONCURRENTLY IF EXISTS {written};")


RULE = Rule(
    code="require-concurrent-index-deletion",
    severity="warning",
    category="index",
    summary="DROP INDEX without CONCURRENTLY.",
    problem=(
        "DROP INDEX takes an ACCESS EXCLUSIVE lock on the index's table: while it waits for running "
        "queries, every new query on the table queues behind it."
    ),
    fix=(
        "Drop it concurrently, outside a transaction block:\n"
        "  DROP INDEX CONCURRENTLY IF EXISTS \"Post_authorId_idx\";"
    ),
    nodes=(ast.DropStmt,),
    check=check,
)

"""Non-transactional statements without IF [NOT] EXISTS (a retry must be able to succeed)."""

from pglast import ast, enums

from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    node = statement.node
    if isinstance(node, ast.IndexStmt) and node.concurrent and not node.idxname:
        yield Violation("CREATE INDEX CONCURRENTLY without a name: a re-run after a later failure silently builds a "
                        "second, duplicate index (PostgreSQL picks a new name); name it and add IF NOT EXISTS")
    elif isinstance(node, ast.IndexStmt) and node.concurrent and not node.if_not_exists:
        yield Violation("CREATE INDEX CONCURRENTLY without IF NOT EXISTS: a retry after a failure stops on 'already exists'")
    elif (isinstance(node, ast.DropStmt) and node.concurrent and not node.missing_ok
          and node.removeType == enums.ObjectType.OBJECT_INDEX):
        yield Violation("DROP INDEX CONCURRENTLY without IF EXISTS: a retry after it succeeded stops on 'does not exist'")


RULE = Rule(
    code="require-if-exists-for-non-transactional",
    severity="warning",
    category="robustness",
    summary="CREATE/DROP INDEX CONCURRENTLY without IF [NOT] EXISTS.",
    problem=(
        "Statements that run outside a transaction are not rolled back when the migration fails later; "
        "re-running the migration then fails on the object that already exists (or is already gone). "
        "A failed CREATE INDEX CONCURRENTLY also leaves an INVALID index behind. An unnamed one never fails "
        "on a re-run: PostgreSQL names the copy t_col_idx1, a silent duplicate index."
    ),
    fix=(
        "Make the statement idempotent, and drop an invalid leftover before retrying:\n"
        "  DROP INDEX CONCURRENTLY IF EXISTS \"Post_authorId_idx\"; -- only if it is INVALID\n"
        "  CREATE INDEX CONCURRENTLY IF NOT EXISTS \"Post_authorId_idx\" ON \"Post\" (\"authorId\");"
    ),
    nodes=(ast.IndexStmt, ast.DropStmt),
    check=check,
)

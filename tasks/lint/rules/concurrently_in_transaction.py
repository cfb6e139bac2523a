"""CONCURRENTLY (and other non-transactional statements) inside a transaction block."""

from pglast import ast

from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    if statement.transactional:
        return
    if state.transaction_depth > 0:
        yield Violation(f"{_label(statement)} cannot run inside the BEGIN ... COMMIT block opened earlier in this file")
    elif state.nested is not None:
        yield Violation(f"{_label(statement)} cannot run inside a DO block or function (they always run in a transaction)")
    elif state.implicit_transaction:
        yield Violation(
            f"{_label(statement)} cannot run in a multi-statement Prisma migration "
            "(Prisma sends the file as one query, which PostgreSQL runs as one transaction)"
        )


def _label(statement) -> str:
    words = statement.text.split()
    return " ".join(words[:3]).rstrip(";") if words else statement.kind


RULE = Rule(
    code="concurrently-in-transaction",
    severity="error",
    category="index",
    summary="CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY, VACUUM ... inside a transaction block.",
    problem=(
        "PostgreSQL refuses these statements inside a transaction block (SQLSTATE 25001): the migration "
        "fails at that statement, after the earlier statements of the block ran."
    ),
    fix=(
        "Put the statement in a migration of its own, with no BEGIN/COMMIT and no other statement:\n"
        "  -- migrations/20240101_add_index/migration.sql\n"
        "  CREATE INDEX CONCURRENTLY IF NOT EXISTS \"Post_authorId_idx\" ON \"Post\" (\"authorId\");"
    ),
    nodes=(ast.IndexStmt, ast.DropStmt, ast.ReindexStmt, ast.VacuumStmt, ast.ClusterStmt, ast.AlterTableStmt,
           ast.CreatedbStmt, ast.DropdbStmt, ast.AlterSystemStmt),
    check=check,
)

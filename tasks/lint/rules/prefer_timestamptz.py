"""timestamp without time zone columns."""

from pglast import ast

from migration_guard.tasks.lint.nodes import column_definitions
from migration_guard.tasks.lint.registry import Rule, Violation
from migration_guard.tasks.sql.locks import type_name


def check(statement, state):
    for column in column_definitions(statement.node):
        if type_name(column.typeName) == "timestamp":
            yield Violation(f"column {column.colname or '(altered)'} is timestamp without time zone; prefer timestamptz")


RULE = Rule(
    code="prefer-timestamptz",
    severity="warning",
    category="types",
    summary="A column of type timestamp (without time zone).",
    problem=(
        "timestamp stores wall-clock time with no zone: the same instant reads differently depending on "
        "the session's TimeZone, and DST changes make values ambiguous. Converting later rewrites the table."
    ),
    fix=(
        "Use timestamptz (Prisma: @db.Timestamptz(3)):\n"
        "  ALTER TABLE \"Event\" ADD COLUMN \"createdAt\" timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;"
    ),
    nodes=(ast.CreateStmt, ast.AlterTableStmt),
    check=check,
)

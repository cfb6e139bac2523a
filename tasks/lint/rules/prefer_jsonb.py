"""json columns: jsonb is almost always what is wanted."""

from pglast import ast

from migration_guard.tasks.lint.nodes import column_definitions
from migration_guard.tasks.lint.registry import Rule, Violation
from migration_guard.tasks.sql.locks import type_name


def check(statement, state):
    for column in column_definitions(statement.node):
        if type_name(column.typeName) == "json":
            yield Violation(f"column {column.colname or '(altered)'} uses json; prefer jsonb")


RULE = Rule(
    code="prefer-jsonb",
    severity="warning",
    category="types",
    summary="A column of type json instead of jsonb.",
    problem=(
        "json stores the text as is: no equality operator (DISTINCT, GROUP BY, UNIQUE fail), no GIN "
        "indexes, re-parsed on every access. Changing it later to jsonb rewrites the table."
    ),
    fix="Use jsonb from the start:\n  ALTER TABLE \"Event\" ADD COLUMN \"payload\" jsonb;",
    nodes=(ast.CreateStmt, ast.AlterTableStmt),
    check=check,
)

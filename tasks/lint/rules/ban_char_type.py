"""char(n) / character(n) columns."""

from pglast import ast

from migration_guard.tasks.lint.nodes import column_definitions
from migration_guard.tasks.lint.registry import Rule, Violation
from migration_guard.tasks.sql.locks import type_name


def check(statement, state):
    for column in column_definitions(statement.node):
        if type_name(column.typeName) == "bpchar":
            yield Violation(f"column {column.colname or '(altered)'} uses char(n); prefer text (with a CHECK on length if needed)")


RULE = Rule(
    code="ban-char-type",
    severity="warning",
    category="types",
    summary="A column of type char(n) / character(n).",
    problem=(
        "char(n) pads values with spaces, compares ignoring them, is no faster than text, and changing "
        "its length later rewrites the table."
    ),
    fix="Use text, with a CHECK when the length matters:\n  ALTER TABLE \"Country\" ADD COLUMN \"code\" text CHECK (length(\"code\") = 2);",
    nodes=(ast.CreateStmt, ast.AlterTableStmt),
    check=check,
)

"""varchar(n) columns where text + CHECK is the safe path."""

from pglast import ast

from migration_guard.tasks.lint.nodes import column_definitions
from migration_guard.tasks.lint.registry import Rule, Violation
from migration_guard.tasks.sql.locks import type_modifiers, type_name


def check(statement, state):
    for column in column_definitions(statement.node):
        if type_name(column.typeName) == "varchar" and type_modifiers(column.typeName):
            n = type_modifiers(column.typeName)[0]
            yield Violation(f"column {column.colname or '(altered)'} uses varchar({n}); prefer text with CHECK (length(...) <= {n})")


RULE = Rule(
    code="prefer-text-over-varchar",
    severity="info",
    category="types",
    summary="A column of type varchar(n).",
    problem=(
        "Lowering the limit later rewrites the table under ACCESS EXCLUSIVE; a CHECK constraint can be "
        "changed online (NOT VALID, then VALIDATE). varchar(n) is not faster than text."
    ),
    fix=(
        "Use text and a named CHECK:\n"
        "  ALTER TABLE \"User\" ADD COLUMN \"name\" text CONSTRAINT \"User_name_len\" CHECK (length(\"name\") <= 255);"
    ),
    nodes=(ast.CreateStmt, ast.AlterTableStmt),
    check=check,
)

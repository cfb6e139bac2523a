"""int / smallint columns anywhere (opt-in; primary keys are prefer-bigint-primary-key's, on by default)."""

from pglast import ast

from migration_guard.tasks.lint.nodes import AT, alter_commands, column_definitions, column_name
from migration_guard.tasks.lint.registry import Rule, Violation
from migration_guard.tasks.sql.locks import type_name

_SMALL_TYPES = {"int4", "int2", "serial", "serial4", "smallserial", "serial2"}


def check(statement, state):
    node = statement.node
    if isinstance(node, ast.CreateStmt):
        columns = [(column, column.colname) for column in column_definitions(node)]
    else:
        columns = [(cmd.def_, column_name(cmd.def_, cmd)) for cmd in alter_commands(node, AT.AT_AddColumn, AT.AT_AlterColumnType)
                   if isinstance(cmd.def_, ast.ColumnDef)]
    for column, name in columns:
        kind = type_name(column.typeName)
        if kind in _SMALL_TYPES:
            yield Violation(f"column {name} is {kind}; prefer bigint (int runs out at 2,147,483,647, smallint at 32,767)")


RULE = Rule(
    code="prefer-bigint",
    severity="info",
    category="types",
    summary="An int / smallint (serial / smallserial) column; opt-in (LINT_ENABLE=prefer-bigint).",
    problem=(
        "Counters, foreign keys and ids stored as int overflow at 2,147,483,647 (smallint at 32,767); "
        "widening later rewrites the table under ACCESS EXCLUSIVE. bigint costs 4 more bytes per row."
    ),
    fix="Use bigint (Prisma: BigInt):\n  ALTER TABLE \"Order\" ADD COLUMN \"quantity\" bigint;",
    nodes=(ast.CreateStmt, ast.AlterTableStmt),
    check=check,
    opt_in=True,
)

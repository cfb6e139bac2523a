"""int / smallint primary keys."""

from pglast import ast

from migration_guard.tasks.lint.nodes import CT, added_columns, column_constraints
from migration_guard.tasks.lint.registry import Rule, Violation
from migration_guard.tasks.sql.locks import type_name

_SMALL_TYPES = {"int4", "int2", "int", "integer", "smallint", "serial", "serial4", "smallserial", "serial2"}


def check(statement, state):
    node = statement.node
    if isinstance(node, ast.CreateStmt):
        columns = {e.colname: e for e in node.tableElts or () if isinstance(e, ast.ColumnDef)}
        key_names = [e.colname for e in columns.values() if column_constraints(e, CT.CONSTR_PRIMARY)]
        for element in node.tableElts or ():
            if isinstance(element, ast.Constraint) and element.contype == CT.CONSTR_PRIMARY:
                key_names.extend(k.sval for k in element.keys or () if isinstance(k, ast.String))
        candidates = [columns[name] for name in key_names if name in columns]
    else:
        candidates = [c for c in added_columns(node) if column_constraints(c, CT.CONSTR_PRIMARY)]
    for column in candidates:
        kind = type_name(column.typeName)
        if kind in _SMALL_TYPES:
            yield Violation(f"primary key column {column.colname} is {kind}; prefer bigint (int runs out at 2,147,483,647)")


RULE = Rule(
    code="prefer-bigint-primary-key",
    severity="warning",
    category="types",
    summary="A primary key of type int / smallint (or serial / smallserial).",
    problem=(
        "A 32-bit key runs out at 2,147,483,647 inserts (sequences also burn values on rollbacks); "
        "widening it later rewrites the table and every referencing foreign key under ACCESS EXCLUSIVE."
    ),
    fix=(
        "Use bigint identity (Prisma: BigInt @id @default(autoincrement())):\n"
        "  CREATE TABLE \"Event\" (\"id\" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ...);"
    ),
    nodes=(ast.CreateStmt, ast.AlterTableStmt),
    check=check,
)

"""ADD COLUMN with a volatile default (or any default before PostgreSQL 11): a table rewrite."""

from pglast import ast

from migration_guard.tasks.lint.nodes import CT, added_columns, column_constraints, qualified
from migration_guard.tasks.lint.registry import Rule, Violation
from migration_guard.tasks.sql.locks import type_name, volatile_call

_SERIALS = {"serial", "bigserial", "smallserial", "serial2", "serial4", "serial8"}


def check(statement, state):
    node = statement.node
    key = state.existing(node.relation) if node.relation is not None else None
    if key is None:
        return
    old_server = state.context.pg_version_num < 110000
    for column in added_columns(node):
        if type_name(column.typeName) in _SERIALS:
            yield Violation(f"column {column.colname} added to {qualified(key)} as {type_name(column.typeName)} "
                            "(a nextval() default) rewrites the table", table=key)
            continue
        for default in column_constraints(column, CT.CONSTR_DEFAULT):
            function = volatile_call(default.raw_expr, state.context.nonvolatile_functions)
            if function:
                yield Violation(f"column {column.colname} added to {qualified(key)} with default {function}(), "
                                "volatile unless known immutable or stable, rewrites the table under an ACCESS "
                                "EXCLUSIVE lock", table=key)
            elif old_server:
                yield Violation(f"column {column.colname} added to {qualified(key)} with a default rewrites the "
                                "table on PostgreSQL < 11", table=key)


RULE = Rule(
    code="adding-column-volatile-default",
    severity="error",
    category="columns",
    summary="ADD COLUMN with a volatile DEFAULT (random(), clock_timestamp(), gen_random_uuid(), nextval/serial ...).",
    problem=(
        "Since PostgreSQL 11 a constant or stable default (0, 'x', now(), CURRENT_TIMESTAMP) is stored "
        "once in the catalog. A volatile default needs a value per row, so PostgreSQL rewrites the whole "
        "table under ACCESS EXCLUSIVE: no reads or writes until it is done, and twice the disk. A function "
        "is volatile unless known immutable or stable: a built-in whose every overload is, or (live mode) a "
        "database function declared so; a user's or extension's function not in the database counts as volatile."
    ),
    fix=(
        "Add the column without the default (or with a constant one), set the default for new rows, "
        "then backfill in batches:\n"
        "  ALTER TABLE \"User\" ADD COLUMN \"token\" uuid;\n"
        "  ALTER TABLE \"User\" ALTER COLUMN \"token\" SET DEFAULT gen_random_uuid();\n"
        "  UPDATE \"User\" SET \"token\" = gen_random_uuid() WHERE \"token\" IS NULL AND id BETWEEN 1 AND 10000;"
    ),
    nodes=(ast.AlterTableStmt,),
    check=check,
    blocking=True,
)

"""ADD COLUMN ... NOT NULL without DEFAULT on an existing table."""

from pglast import ast

from migration_guard.tasks.lint.context import describe_size
from migration_guard.tasks.lint.nodes import CT, added_columns, column_constraints, qualified
from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    node = statement.node
    key = state.existing(node.relation) if node.relation is not None else None
    if key is None:
        return
    for column in added_columns(node):
        if not (column.is_not_null or column_constraints(column, CT.CONSTR_NOTNULL, CT.CONSTR_PRIMARY)):
            continue
        if column_constraints(column, CT.CONSTR_DEFAULT, CT.CONSTR_IDENTITY, CT.CONSTR_GENERATED):
            continue
        if column.typeName is not None and column.typeName.names[-1].sval.lower() in _SERIALS:
            continue
        message = f"column {column.colname} added to {qualified(key)} as NOT NULL without a DEFAULT fails if the table has rows"
        stats = state.context.stats_for(key)
        has_rows = state.context.has_rows.get(key)
        if stats is not None and has_rows is False:  # SELECT EXISTS saw no row, not just a zero estimate
            yield Violation(f"{message} (the table is empty now: {describe_size(stats, has_rows)})", severity="info")
        elif stats is not None:
            yield Violation(f"{message} ({qualified(key)}: {describe_size(stats, has_rows)})")
        else:
            yield Violation(message)


_SERIALS = {"serial", "bigserial", "smallserial", "serial2", "serial4", "serial8"}

RULE = Rule(
    code="adding-not-nullable-column",
    severity="error",
    category="columns",
    summary="ADD COLUMN ... NOT NULL without a DEFAULT on an existing table.",
    problem=(
        "Existing rows would get NULL in a NOT NULL column, so PostgreSQL rejects the statement "
        "(SQLSTATE 23502) as soon as the table has one row: the migration fails in production although "
        "it passed on an empty development database."
    ),
    fix=(
        "Give it a constant default (no rewrite on PostgreSQL >= 11), or add it nullable, backfill, then "
        "enforce:\n  ALTER TABLE \"User\" ADD COLUMN \"name\" TEXT NOT NULL DEFAULT '';\n"
        "or\n  ALTER TABLE \"User\" ADD COLUMN \"name\" TEXT;\n  UPDATE \"User\" SET \"name\" = '' WHERE \"name\" IS NULL; -- in batches\n"
        "  -- then the validated CHECK path of setting-not-nullable-column"
    ),
    nodes=(ast.AlterTableStmt,),
    check=check,
)

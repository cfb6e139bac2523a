"""ALTER COLUMN ... SET NOT NULL on an existing table."""

from pglast import ast

from migration_guard.tasks.lint.nodes import AT, alter_commands, qualified
from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    node = statement.node
    key = state.existing(node.relation) if node.relation is not None else None
    if key is None:
        return
    for cmd in alter_commands(node, AT.AT_SetNotNull):
        yield Violation(f"SET NOT NULL on {qualified(key)}.{cmd.name} scans the whole table under an ACCESS EXCLUSIVE lock", table=key)


RULE = Rule(
    code="setting-not-nullable-column",
    severity="error",
    category="columns",
    summary="ALTER COLUMN ... SET NOT NULL on an existing table.",
    problem=(
        "SET NOT NULL checks every row while holding ACCESS EXCLUSIVE (no reads, no writes), and fails "
        "the migration if one row is NULL."
    ),
    fix=(
        "Prove it with a validated CHECK first; PostgreSQL >= 12 then skips the scan:\n"
        "  ALTER TABLE \"User\" ADD CONSTRAINT \"User_name_not_null\" CHECK (\"name\" IS NOT NULL) NOT VALID;\n"
        "  ALTER TABLE \"User\" VALIDATE CONSTRAINT \"User_name_not_null\";\n"
        "  ALTER TABLE \"User\" ALTER COLUMN \"name\" SET NOT NULL;\n"
        "  ALTER TABLE \"User\" DROP CONSTRAINT \"User_name_not_null\";"
    ),
    nodes=(ast.AlterTableStmt,),
    check=check,
    blocking=True,
)

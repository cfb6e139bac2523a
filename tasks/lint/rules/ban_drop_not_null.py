"""ALTER COLUMN ... DROP NOT NULL on an existing table."""

from pglast import ast

from migration_guard.tasks.lint.nodes import AT, alter_commands, qualified
from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    node = statement.node
    key = state.existing(node.relation) if node.relation is not None else None
    if key is None:
        return
    for cmd in alter_commands(node, AT.AT_DropNotNull):
        yield Violation(f"DROP NOT NULL on {qualified(key)}.{cmd.name}: running code that assumes a value may break on NULLs")


RULE = Rule(
    code="ban-drop-not-null",
    severity="warning",
    category="destructive",
    summary="ALTER COLUMN ... DROP NOT NULL on an existing table.",
    problem=(
        "Once NULLs are allowed, readers that assumed a value (generated clients typed as non-null, "
        "reports, joins) get NULLs; putting NOT NULL back later needs a full-table check."
    ),
    fix=(
        "Deploy code that handles NULL first, then relax the column and record the decision:\n"
        "  -- migration-guard:ignore ban-drop-not-null clients handle NULL since release 42\n"
        "  ALTER TABLE \"User\" ALTER COLUMN \"name\" DROP NOT NULL;"
    ),
    nodes=(ast.AlterTableStmt,),
    check=check,
)

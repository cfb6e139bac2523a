"""ALTER TABLE ... DROP COLUMN on an existing table."""

from pglast import ast

from migration_guard.tasks.lint.nodes import AT, alter_commands, qualified
from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    node = statement.node
    key = state.existing(node.relation) if node.relation is not None else None
    if key is None:
        return
    for cmd in alter_commands(node, AT.AT_DropColumn):
        yield Violation(f"DROP COLUMN {qualified(key)}.{cmd.name} deletes its data; running code that selects it fails")


RULE = Rule(
    code="ban-drop-column",
    severity="error",
    category="destructive",
    summary="ALTER TABLE ... DROP COLUMN on an existing table.",
    problem=(
        "The column's data is lost, and application versions still running (or ORMs that list every "
        "column, like Prisma's generated client) fail when they select or insert it."
    ),
    fix=(
        "Expand and contract: stop reading and writing the column, deploy, then drop it in a later "
        "migration with the decision recorded:\n"
        "  -- migration-guard:ignore ban-drop-column unused since release 42\n"
        "  ALTER TABLE \"User\" DROP COLUMN IF EXISTS \"legacyName\";"
    ),
    nodes=(ast.AlterTableStmt,),
    check=check,
    policy=True,
)

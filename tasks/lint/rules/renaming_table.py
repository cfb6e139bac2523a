"""ALTER TABLE ... RENAME TO on an existing table."""

from pglast import ast, enums

from migration_guard.tasks.lint.nodes import qualified
from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    node = statement.node
    if node.renameType != enums.ObjectType.OBJECT_TABLE or node.relation is None:
        return
    key = state.existing(node.relation)
    if key is not None:
        yield Violation(f"renaming table {qualified(key)} to {node.newname} breaks every running query that names it")


RULE = Rule(
    code="renaming-table",
    severity="warning",
    category="destructive",
    summary="Renaming an existing table.",
    problem=(
        "The rename is instant, but application versions still deployed use the old name and fail "
        "(relation does not exist) until they are replaced."
    ),
    fix=(
        "Rename in steps: create a view with the new name (or the old one) so both names work while "
        "code is deployed, then drop it:\n"
        "  ALTER TABLE \"Post\" RENAME TO \"Article\";\n  CREATE VIEW \"Post\" AS SELECT * FROM \"Article\";\n"
        "  -- later: DROP VIEW \"Post\";"
    ),
    nodes=(ast.RenameStmt,),
    check=check,
    policy=True,
)

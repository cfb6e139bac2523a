"""ALTER TABLE ... RENAME COLUMN on an existing table."""

from pglast import ast, enums

from migration_guard.tasks.lint.nodes import qualified
from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    node = statement.node
    if node.renameType != enums.ObjectType.OBJECT_COLUMN or node.relation is None:
        return
    key = state.existing(node.relation)
    if key is not None:
        yield Violation(f"renaming column {qualified(key)}.{node.subname} to {node.newname} breaks running code that uses the old name")


RULE = Rule(
    code="renaming-column",
    severity="warning",
    category="destructive",
    summary="Renaming a column of an existing table.",
    problem=(
        "Application versions still deployed read and write the old name and fail (column does not "
        "exist) until every instance runs the new code."
    ),
    fix=(
        "Expand and contract: add the new column, write both, backfill, switch reads, drop the old:\n"
        "  ALTER TABLE \"User\" ADD COLUMN \"fullName\" text;\n"
        "  UPDATE \"User\" SET \"fullName\" = \"name\" WHERE id BETWEEN 1 AND 10000; -- repeat\n"
        "  -- later: ALTER TABLE \"User\" DROP COLUMN \"name\";"
    ),
    nodes=(ast.RenameStmt,),
    check=check,
    policy=True,
)

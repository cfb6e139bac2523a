"""DROP TABLE of an existing table."""

from pglast import ast, enums

from migration_guard.tasks.lint.nodes import qualified
from migration_guard.tasks.lint.registry import Rule, Violation
from migration_guard.tasks.sql.locks import name_key


def check(statement, state):
    node = statement.node
    if node.removeType != enums.ObjectType.OBJECT_TABLE:
        return
    for names in node.objects or ():
        key = name_key(names, state.context.default_schema)
        if not state.is_new(key):
            cascade = " CASCADE (also drops dependent views and foreign keys)" if node.behavior == enums.DropBehavior.DROP_CASCADE else ""
            yield Violation(f"DROP TABLE {qualified(key)}{cascade} deletes its data; running code that uses it fails")


RULE = Rule(
    code="ban-drop-table",
    severity="error",
    category="destructive",
    summary="DROP TABLE of an existing table.",
    problem=(
        "The data is gone (only a backup brings it back) and application versions still deployed that "
        "read or write the table fail at once."
    ),
    fix=(
        "Stop using the table in code first and deploy that; then drop it in a later migration, after a "
        "backup, with the decision recorded:\n"
        "  -- migration-guard:ignore ban-drop-table table unused since release 42, backed up\n"
        "  DROP TABLE IF EXISTS \"LegacyAudit\";\n"
        "Or rename it first (ALTER TABLE ... RENAME TO ..._deprecated) and drop it a release later."
    ),
    nodes=(ast.DropStmt,),
    check=check,
    policy=True,
)

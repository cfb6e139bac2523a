"""TRUNCATE (CASCADE) in a migration."""

from pglast import ast, enums

from migration_guard.tasks.lint.nodes import qualified
from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    node = statement.node
    tables = [state.key(r) for r in node.relations or ()]
    existing = [key for key in tables if not state.is_new(key)]
    if not existing:
        return
    cascade = node.behavior == enums.DropBehavior.DROP_CASCADE
    names = ", ".join(qualified(key) for key in existing)
    suffix = " CASCADE also empties every table with a foreign key to it" if cascade else ""
    yield Violation(f"TRUNCATE {names} deletes every row under an ACCESS EXCLUSIVE lock;{suffix}".rstrip(";"))


RULE = Rule(
    code="ban-truncate",
    severity="error",
    category="destructive",
    summary="TRUNCATE of an existing table (CASCADE empties the referencing tables too).",
    problem=(
        "TRUNCATE deletes every row at once, takes ACCESS EXCLUSIVE, and with CASCADE silently empties "
        "every table that references it. The data only comes back from a backup."
    ),
    fix=(
        "Delete what you mean to delete, in batches, with a WHERE clause:\n"
        "  DELETE FROM \"Session\" WHERE \"expiresAt\" < now() - interval '30 days';\n"
        "If the table really must be emptied, record why:\n"
        "  -- migration-guard:ignore ban-truncate cache table, rebuilt on start"
    ),
    nodes=(ast.TruncateStmt,),
    check=check,
    policy=True,
)

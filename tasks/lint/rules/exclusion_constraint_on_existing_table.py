"""EXCLUDE constraint added to an existing table."""

from pglast import ast

from migration_guard.tasks.lint.nodes import CT, added_constraints, qualified
from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    node = statement.node
    key = state.existing(node.relation) if node.relation is not None else None
    if key is None:
        return
    for constraint in added_constraints(node):
        if constraint.contype == CT.CONSTR_EXCLUSION:
            yield Violation(f"EXCLUDE constraint on {qualified(key)} builds its index under an ACCESS EXCLUSIVE lock", table=key)


RULE = Rule(
    code="exclusion-constraint-on-existing-table",
    severity="error",
    category="constraints",
    summary="EXCLUDE constraint added to an existing table.",
    problem=(
        "An exclusion constraint cannot be added NOT VALID nor from an existing index: PostgreSQL builds "
        "its index and checks every row while holding ACCESS EXCLUSIVE, blocking reads and writes."
    ),
    fix=(
        "Create the table with the constraint from the start, or add it in a maintenance window with "
        "a lock_timeout:\n  SET lock_timeout = '2s';\n"
        "  ALTER TABLE booking ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&);\n"
        "A trigger-based check can enforce the rule meanwhile."
    ),
    nodes=(ast.AlterTableStmt,),
    check=check,
    blocking=True,
)

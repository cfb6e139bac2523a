"""UNIQUE or PRIMARY KEY added to an existing table without USING INDEX."""

from pglast import ast

from migration_guard.tasks.lint.nodes import CT, added_constraints, qualified
from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    node = statement.node
    key = state.existing(node.relation) if node.relation is not None else None
    if key is None:
        return
    for constraint in added_constraints(node):
        if constraint.contype in (CT.CONSTR_UNIQUE, CT.CONSTR_PRIMARY) and not constraint.indexname:
            kind = "PRIMARY KEY" if constraint.contype == CT.CONSTR_PRIMARY else "UNIQUE"
            yield Violation(
                f"{kind} added to {qualified(key)} without USING INDEX builds its index under an ACCESS EXCLUSIVE lock",
                table=key,
            )


RULE = Rule(
    code="unique-constraint-without-index",
    severity="error",
    category="constraints",
    summary="UNIQUE or PRIMARY KEY constraint added to an existing table without USING INDEX.",
    problem=(
        "ALTER TABLE ... ADD UNIQUE / PRIMARY KEY builds the index while holding ACCESS EXCLUSIVE: "
        "no reads or writes for the duration of the build."
    ),
    fix=(
        "Build the unique index concurrently first, then attach it (instant):\n"
        "  CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"User_email_key\" ON \"User\" (\"email\");\n"
        "  ALTER TABLE \"User\" ADD CONSTRAINT \"User_email_key\" UNIQUE USING INDEX \"User_email_key\";"
    ),
    nodes=(ast.AlterTableStmt,),
    check=check,
    blocking=True,
)

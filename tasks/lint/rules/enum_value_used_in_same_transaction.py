"""ALTER TYPE ... ADD VALUE followed by a use of the new value in the same transaction."""

from pglast import ast

from migration_guard.tasks.lint.nodes import string_constants
from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    if not state.enum_values_added or not state.executed or isinstance(statement.node, ast.AlterEnumStmt):
        return
    added = {value: type_name for type_name, value in state.enum_values_added}
    for constant in string_constants(statement.node):
        if constant in added:
            yield Violation(
                f"uses enum value {constant!r} added to {added[constant]} earlier in the same transaction "
                "(unsafe use of new value: SQLSTATE 55P04)"
            )
            return


RULE = Rule(
    code="enum-value-used-in-same-transaction",
    severity="error",
    category="transactions",
    summary="ALTER TYPE ... ADD VALUE, then the new value used before the transaction commits.",
    problem=(
        "PostgreSQL lets ALTER TYPE ... ADD VALUE run in a transaction (>= 12) but refuses to use the new "
        "label until that transaction commits: the statement that uses it fails with 'unsafe use of new "
        "value' and the whole migration rolls back."
    ),
    fix=(
        "Add the value in one migration and use it in the next:\n"
        "  -- migration 1\n  ALTER TYPE \"Role\" ADD VALUE IF NOT EXISTS 'ADMIN';\n"
        "  -- migration 2\n  UPDATE \"User\" SET \"role\" = 'ADMIN' WHERE \"email\" = 'root@example.com';"
    ),
    nodes=(ast.Node,),
    check=check,
)

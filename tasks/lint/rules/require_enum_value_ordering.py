"""ALTER TYPE ... ADD VALUE without BEFORE / AFTER."""

from pglast import ast

from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    node = statement.node
    if node.newVal and not node.oldVal and not node.newValNeighbor:
        type_name = ".".join(n.sval for n in node.typeName or () if isinstance(n, ast.String))
        yield Violation(f"ALTER TYPE {type_name} ADD VALUE '{node.newVal}' without BEFORE/AFTER appends it last, "
                        "which decides how the enum sorts (ORDER BY, <, >)")


RULE = Rule(
    code="require-enum-value-ordering",
    severity="info",
    category="types",
    summary="ALTER TYPE ... ADD VALUE without BEFORE or AFTER (where the new value sorts).",
    problem=(
        "Enum values sort in declaration order, not alphabetically: a value appended at the end sorts "
        "after every existing one in ORDER BY and comparisons, and that position cannot be changed later "
        "without recreating the type."
    ),
    fix="Say where it belongs:\n  ALTER TYPE \"Status\" ADD VALUE 'ARCHIVED' AFTER 'DONE';",
    nodes=(ast.AlterEnumStmt,),
    check=check,
)

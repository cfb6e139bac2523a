"""DROP SCHEMA and DROP DATABASE."""

from pglast import ast, enums

from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    node = statement.node
    if isinstance(node, ast.DropdbStmt):
        yield Violation(f"DROP DATABASE {node.dbname} deletes a whole database")
    elif node.removeType == enums.ObjectType.OBJECT_SCHEMA:
        for name in node.objects or ():
            schema = name.sval if isinstance(name, ast.String) else str(name)
            cascade = " CASCADE" if node.behavior == enums.DropBehavior.DROP_CASCADE else ""
            yield Violation(f"DROP SCHEMA {schema}{cascade} deletes every object (and row) in it")


RULE = Rule(
    code="ban-drop-schema-or-database",
    severity="error",
    category="destructive",
    summary="DROP SCHEMA or DROP DATABASE in a migration.",
    problem=(
        "Every table, row and function in the schema or database is deleted; with CASCADE also what "
        "depends on it elsewhere. Migrations run against production, where this is rarely intended."
    ),
    fix=(
        "Drop the objects you mean to drop one by one, in migrations of their own, after a backup. "
        "Reset development databases with your tool (prisma migrate reset), not a migration."
    ),
    nodes=(ast.DropStmt, ast.DropdbStmt),
    check=check,
    policy=True,
)

"""Identifiers longer than 63 bytes (PostgreSQL silently truncates them)."""

from pglast import ast

from migration_guard.tasks.lint.nodes import column_definitions
from migration_guard.tasks.lint.registry import Rule, Violation

MAX_IDENTIFIER_BYTES = 63


def _names(node):
    if isinstance(node, ast.CreateStmt):
        yield "table", node.relation.relname
        for element in node.tableElts or ():
            if isinstance(element, ast.Constraint):
                yield "constraint", element.conname
    elif isinstance(node, ast.IndexStmt):
        yield "index", node.idxname
    elif isinstance(node, ast.RenameStmt):
        yield "name", node.newname
    elif isinstance(node, ast.CreateEnumStmt):
        yield "type", node.typeName[-1].sval if node.typeName else None
    elif isinstance(node, ast.AlterTableStmt):
        for cmd in node.cmds or ():
            if isinstance(cmd.def_, ast.Constraint):
                yield "constraint", cmd.def_.conname
    elif isinstance(node, (ast.ViewStmt, ast.CreateTableAsStmt)):
        relation = node.view if isinstance(node, ast.ViewStmt) else (node.into.rel if node.into else None)
        yield "view", relation.relname if relation is not None else None
    for column in column_definitions(node):
        yield "column", column.colname
        for constraint in column.constraints or ():
            if isinstance(constraint, ast.Constraint):
                yield "constraint", constraint.conname


def check(statement, state):
    for kind, name in _names(statement.node):
        if name and len(name.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
            yield Violation(f"{kind} name {name[:40]}... is {len(name.encode('utf-8'))} bytes; PostgreSQL truncates it to 63")


RULE = Rule(
    code="identifier-too-long",
    severity="warning",
    category="types",
    summary="An identifier longer than 63 bytes.",
    problem=(
        "PostgreSQL truncates identifiers to 63 bytes with only a NOTICE: two long names that share "
        "their first 63 bytes collide (relation already exists), and tools that compare the full name "
        "(ORMs, drift checks) see a missing object."
    ),
    fix="Choose a shorter name (Prisma: map: \"...\" on the field or @@index):\n  CREATE INDEX \"Order_customer_created_idx\" ON \"Order\" (\"customerId\", \"createdAt\");",
    nodes=(ast.CreateStmt, ast.IndexStmt, ast.RenameStmt, ast.CreateEnumStmt, ast.AlterTableStmt, ast.ViewStmt, ast.CreateTableAsStmt),
    check=check,
)

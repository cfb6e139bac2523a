"""ALTER TABLE ... SET LOGGED / SET UNLOGGED."""

from pglast import ast

from migration_guard.tasks.lint.nodes import AT, alter_commands, qualified
from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    node = statement.node
    key = state.existing(node.relation) if node.relation is not None else None
    if key is None:
        return
    for cmd in alter_commands(node, AT.AT_SetLogged, AT.AT_SetUnLogged):
        word = "LOGGED" if cmd.subtype == AT.AT_SetLogged else "UNLOGGED"
        yield Violation(f"SET {word} rewrites {qualified(key)} under an ACCESS EXCLUSIVE lock", table=key)


RULE = Rule(
    code="set-logged-unlogged",
    severity="error",
    category="locks",
    summary="ALTER TABLE ... SET LOGGED or SET UNLOGGED on an existing table.",
    problem=(
        "Both rewrite the whole table (SET LOGGED also writes all of it to the WAL) under ACCESS "
        "EXCLUSIVE. An UNLOGGED table is emptied after a crash and is not replicated."
    ),
    fix=(
        "Decide persistence when the table is created (CREATE UNLOGGED TABLE ...). To change it on a "
        "large table, create the new table, copy in batches, and swap names in a short transaction."
    ),
    nodes=(ast.AlterTableStmt,),
    check=check,
    blocking=True,
)

"""ALTER TABLE ... DETACH PARTITION without CONCURRENTLY."""

from pglast import ast

from migration_guard.tasks.lint.nodes import AT, alter_commands, qualified
from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    node = statement.node
    key = state.existing(node.relation) if node.relation is not None else None
    if key is None:
        return
    for cmd in alter_commands(node, AT.AT_DetachPartition):
        if isinstance(cmd.def_, ast.PartitionCmd) and not cmd.def_.concurrent:
            yield Violation(f"DETACH PARTITION {cmd.def_.name.relname} takes an ACCESS EXCLUSIVE lock on {qualified(key)}", table=key)


RULE = Rule(
    code="detach-partition-without-concurrently",
    severity="error",
    category="locks",
    summary="DETACH PARTITION without CONCURRENTLY.",
    problem=(
        "A plain DETACH PARTITION takes ACCESS EXCLUSIVE on the partitioned (parent) table: every query "
        "on any partition waits."
    ),
    fix=(
        "Detach concurrently (PostgreSQL >= 14), outside a transaction block, in its own migration:\n"
        "  ALTER TABLE \"Event\" DETACH PARTITION \"Event_2023\" CONCURRENTLY;"
    ),
    nodes=(ast.AlterTableStmt,),
    check=check,
    blocking=True,
)

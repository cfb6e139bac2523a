"""CLUSTER in a migration."""

from pglast import ast

from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    node = statement.node
    if node.relation is None:
        yield Violation("CLUSTER without a table re-clusters every clustered table under ACCESS EXCLUSIVE locks")
        return
    key = state.existing(node.relation)
    if key is not None:
        yield Violation(f"CLUSTER {node.relation.relname} rewrites the table under an ACCESS EXCLUSIVE lock", table=key)


RULE = Rule(
    code="cluster",
    severity="error",
    category="locks",
    summary="CLUSTER (a full table rewrite under ACCESS EXCLUSIVE).",
    problem=(
        "CLUSTER rewrites the table in index order and rebuilds every index while holding ACCESS "
        "EXCLUSIVE: no reads or writes until it finishes, and twice the disk space."
    ),
    fix="Use pg_repack --order-by outside migrations, or accept a maintenance window:\n  SET lock_timeout = '2s';\n  CLUSTER \"Event\" USING \"Event_createdAt_idx\";",
    nodes=(ast.ClusterStmt,),
    check=check,
    blocking=True,
)

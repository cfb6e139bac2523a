"""VACUUM FULL in a migration."""

from pglast import ast

from migration_guard.tasks.lint.registry import Rule, Violation
from migration_guard.tasks.sql.locks import lock_for, option_is_on


def check(statement, state):
    node = statement.node
    if not option_is_on(node.options, "full"):  # VACUUM (FULL false) is a plain VACUUM
        return
    locks = [lock for lock in lock_for(node, state.context.default_schema) if not state.is_new(lock.key)]
    if not node.rels:
        yield Violation("VACUUM FULL of the whole database rewrites every table under ACCESS EXCLUSIVE locks")
    for lock in locks:
        yield Violation(f"VACUUM FULL {lock.table} rewrites the table under an ACCESS EXCLUSIVE lock", table=lock.key)


RULE = Rule(
    code="vacuum-full",
    severity="error",
    category="locks",
    summary="VACUUM FULL (a full table rewrite under ACCESS EXCLUSIVE).",
    problem=(
        "VACUUM FULL copies the whole table and rebuilds its indexes while holding ACCESS EXCLUSIVE: no "
        "reads or writes until it finishes, and it needs free disk for a second copy. It also cannot run "
        "in a transaction block."
    ),
    fix=(
        "Let autovacuum work, or run plain VACUUM (no exclusive lock). To reclaim space online use "
        "pg_repack / pg_squeeze outside migrations:\n  VACUUM (ANALYZE) \"Event\";"
    ),
    nodes=(ast.VacuumStmt,),
    check=check,
    blocking=True,
)

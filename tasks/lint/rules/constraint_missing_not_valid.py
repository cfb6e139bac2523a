"""FOREIGN KEY or CHECK added without NOT VALID on an existing table."""

from pglast import ast

from migration_guard.tasks.lint.nodes import CT, added_constraints, qualified
from migration_guard.tasks.lint.registry import Rule, Violation


def check(statement, state):
    node = statement.node
    key = state.existing(node.relation) if node.relation is not None else None
    if key is None:
        return
    for constraint in added_constraints(node):
        if constraint.contype not in (CT.CONSTR_FOREIGN, CT.CONSTR_CHECK) or constraint.skip_validation:
            continue
        kind = "FOREIGN KEY" if constraint.contype == CT.CONSTR_FOREIGN else "CHECK"
        name = f" {constraint.conname}" if constraint.conname else ""
        yield Violation(
            f"{kind}{name} added to {qualified(key)} without NOT VALID scans the whole table while holding a lock",
            table=key,
        )


RULE = Rule(
    code="constraint-missing-not-valid",
    severity="error",
    category="constraints",
    summary="FOREIGN KEY or CHECK constraint added to an existing table without NOT VALID.",
    problem=(
        "Adding the constraint validates every existing row while holding the lock (SHARE ROW EXCLUSIVE "
        "for a foreign key, on both tables; ACCESS EXCLUSIVE for a CHECK): writes (and for CHECK, reads) "
        "wait for a full table scan."
    ),
    fix=(
        "Add it NOT VALID (instant; new rows are checked), then validate in a later step, which takes "
        "only a SHARE UPDATE EXCLUSIVE lock:\n"
        "  ALTER TABLE \"Post\" ADD CONSTRAINT \"Post_authorId_fkey\" FOREIGN KEY (\"authorId\") "
        "REFERENCES \"User\"(\"id\") NOT VALID;\n"
        "  ALTER TABLE \"Post\" VALIDATE CONSTRAINT \"Post_authorId_fkey\";"
    ),
    nodes=(ast.AlterTableStmt,),
    check=check,
    blocking=True,
)

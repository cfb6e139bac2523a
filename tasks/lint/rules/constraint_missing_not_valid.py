"""FOREIGN KEY or CHECK added without NOT VALID on an existing table, or validated in the same
transaction that added it NOT VALID (the ADD's lock is then held through the validation scan)."""

from pglast import ast, enums

from migration_guard.tasks.lint.nodes import AT, CT, added_constraints, alter_commands, qualified
from migration_guard.tasks.lint.registry import Rule, Violation

_MEMO = "constraint-missing-not-valid:open"  # (table, constraint) added NOT VALID in the open transaction


def check(statement, state):
    node = statement.node
    if isinstance(node, ast.TransactionStmt):
        kind = enums.TransactionStmtKind
        if node.kind in (kind.TRANS_STMT_COMMIT, kind.TRANS_STMT_ROLLBACK, kind.TRANS_STMT_PREPARE):
            state.memo.pop(_MEMO, None)
        return
    key = state.existing(node.relation) if node.relation is not None else None
    if key is None:
        return
    added_not_valid = state.memo.setdefault(_MEMO, set())
    for cmd in alter_commands(node, AT.AT_ValidateConstraint):
        if (key, cmd.name) in added_not_valid:
            yield Violation(
                f"VALIDATE CONSTRAINT {cmd.name} on {qualified(key)} runs in the same transaction that added it NOT "
                "VALID: the ADD's lock is held through the validation scan, so NOT VALID gains nothing; validate "
                "in a later migration", table=key,
            )
    for constraint in added_constraints(node):
        if constraint.contype not in (CT.CONSTR_FOREIGN, CT.CONSTR_CHECK):
            continue
        if constraint.skip_validation:
            if state.in_transaction and constraint.conname:
                added_not_valid.add((key, constraint.conname))
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
    summary="FOREIGN KEY or CHECK constraint added to an existing table without NOT VALID (or validated in the same transaction).",
    problem=(
        "Adding the constraint validates every existing row while holding the lock (SHARE ROW EXCLUSIVE "
        "for a foreign key, on both tables; ACCESS EXCLUSIVE for a CHECK): writes (and for CHECK, reads) "
        "wait for a full table scan."
    ),
    fix=(
        "Add it NOT VALID (instant; new rows are checked), then validate in a later migration (its own "
        "transaction), which takes only a SHARE UPDATE EXCLUSIVE lock:\n"
        "  -- migration 1\n"
        "  ALTER TABLE \"Post\" ADD CONSTRAINT \"Post_authorId_fkey\" FOREIGN KEY (\"authorId\") "
        "REFERENCES \"User\"(\"id\") NOT VALID;\n"
        "  -- migration 2 (validating in the same transaction keeps migration 1's lock through the scan)\n"
        "  ALTER TABLE \"Post\" VALIDATE CONSTRAINT \"Post_authorId_fkey\";"
    ),
    nodes=(ast.AlterTableStmt, ast.TransactionStmt),
    check=check,
    blocking=True,
)

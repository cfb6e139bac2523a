"""BEGIN / COMMIT / ROLLBACK written in a migration file."""

from pglast import ast, enums

from migration_guard.tasks.lint.registry import Rule, Violation

K = enums.TransactionStmtKind
_BEGIN = (K.TRANS_STMT_BEGIN, K.TRANS_STMT_START)
_END = (K.TRANS_STMT_COMMIT, K.TRANS_STMT_ROLLBACK, K.TRANS_STMT_PREPARE)
#: Runners that make a file atomic themselves (Prisma: one query = one implicit transaction; migration-guard's
#: sql runner: one transaction, ignoring BEGIN/COMMIT in the file). With an unknown runner (psql -f) a
#: balanced BEGIN ... COMMIT is what makes the file atomic, so it is not reported.
_WRAPPING_RUNNERS = ("prisma", "sql")


def check(statement, state):
    node = statement.node
    if state.nested is not None:
        return
    if node.kind in _BEGIN:
        if state.transaction_depth > 0:
            yield Violation("nested BEGIN: PostgreSQL ignores it with a warning and the first COMMIT ends the outer block too", severity="error")
        elif not any(_ends(s) for s in state.statements[statement.index + 1:]):
            yield Violation("BEGIN without a later COMMIT: the transaction is left open (or committed by whoever runs the file)", severity="error")
        elif state.context.tool in _WRAPPING_RUNNERS:
            yield Violation("explicit BEGIN ... COMMIT in a migration: the migration runner already manages the transaction")
    elif node.kind in _END and state.transaction_depth == 0:
        word = "COMMIT" if node.kind == K.TRANS_STMT_COMMIT else node.kind.name.removeprefix("TRANS_STMT_")
        yield Violation(f"{word} without BEGIN ends the runner's transaction: what ran before stays applied if a later statement fails")


def _ends(statement) -> bool:
    return isinstance(statement.node, ast.TransactionStmt) and statement.node.kind in _END


RULE = Rule(
    code="transaction-control",
    severity="warning",
    category="transactions",
    summary="BEGIN / COMMIT / ROLLBACK inside a migration file (uncommitted, nested, or fighting the runner).",
    problem=(
        "Prisma and migration-guard run each migration file as one transaction, so BEGIN/COMMIT written in "
        "the file fight the runner (a balanced BEGIN ... COMMIT is reported only for them; with psql -f it is "
        "what makes the file atomic). A COMMIT in the middle makes the statements before it permanent, so a "
        "later failure leaves a half-applied migration; a BEGIN without COMMIT leaves the work uncommitted; a "
        "nested BEGIN is ignored and its COMMIT commits the outer block."
    ),
    fix=(
        "Remove BEGIN/COMMIT and let the runner wrap the file. Put statements that cannot run in a "
        "transaction (CREATE INDEX CONCURRENTLY) in a migration of their own.\n"
        "  -- before: BEGIN; ALTER TABLE ...; COMMIT;\n  -- after:  ALTER TABLE ...;"
    ),
    nodes=(ast.TransactionStmt,),
    check=check,
)

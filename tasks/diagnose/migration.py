"""Diagnose one failed migration: each statement checked against the catalog, then the order
rules applied (plain logic: the catalog comes in as a snapshot)."""

from __future__ import annotations

import time
from dataclasses import replace

from migration_guard.tasks.diagnose.effects import EffectChecker
from migration_guard.tasks.diagnose.infer import infer_from_order
from migration_guard.tasks.diagnose.logs import failing_statement_from_logs
from migration_guard.tasks.diagnose.model import Diagnosis, Effect
from migration_guard.tasks.schema.model import SchemaSnapshot
from migration_guard.tasks.sql.statements import split_statements


def diagnose_migration(
    sql_text: str, name: str, snapshot: SchemaSnapshot, *, schema: str = "public", logs: str | None = None
) -> Diagnosis:
    """Decide each statement's effect from the snapshot, then apply order inference.

    Args:
        sql_text: the migration's SQL.
        name: the migration's name (for messages).
        snapshot: the live catalog (see :func:`~migration_guard.tasks.diagnose.catalog.load_catalog`).
        schema: where unqualified names live (the project's schema).
        logs: the failed ledger row's logs; used to find the failing statement.

    Returns:
        The diagnosis: one entry per statement (transaction control left out), the failing
        statement and where that came from, parse errors, and the time it took.
    """
    started = time.perf_counter()
    statements = [s for s in split_statements(sql_text, name) if not s.is_transaction_control]
    statements = [s if s.index == i else replace(s, index=i) for i, s in enumerate(statements)]
    checker = EffectChecker(snapshot, schema)
    verdicts = [checker.check(s) for s in statements]
    named = failing_statement_from_logs(statements, logs)
    inferred, failing = infer_from_order(verdicts, named)
    diagnosis = Diagnosis(
        migration=name, statements=inferred, failing_index=failing,
        failing_source="ledger logs" if named is not None and failing == named else (
            "first statement not done" if failing is not None else ""),
        parse_errors=[f"line {s.error_line}: {s.error}" for s in statements if s.error],
    )
    diagnosis.seconds = time.perf_counter() - started
    return diagnosis


def wrapped_in_one_transaction(sql_text: str, name: str) -> bool:
    """True when the migration's own BEGIN ... COMMIT holds all its statements (Prisma writes enum
    changes so): a failure anywhere takes the whole migration back."""
    statements = split_statements(sql_text, name)
    return len(statements) > 2 and statements[0].is_transaction_control and statements[-1].is_transaction_control \
        and not any(s.is_transaction_control for s in statements[1:-1])


def settle_whole_rollback(diagnosis: Diagnosis, sql_text: str, name: str) -> None:
    """A migration in its own BEGIN ... COMMIT that left no effect was rolled back whole, so the schema
    cannot say which statement failed: unless the logs named it, the replay's "first statement whose
    effect is absent" is no answer (it named a CREATE TYPE that cannot fail for Prisma's enum removal).
    The failing statement becomes unknown here; :func:`name_failing_from_cause` may settle it."""
    if diagnosis.failing_source != "replay" or not wrapped_in_one_transaction(sql_text, name):
        return
    if any(s.effect is not Effect.NOT_DONE for s in diagnosis.statements):
        return
    diagnosis.failing_index, diagnosis.failing_source = None, ""
    diagnosis.statements = [replace(s, reason="rolled back with the whole migration (its own BEGIN ... COMMIT; "
                                              "replay: the live schema is as before it)")
                            for s in diagnosis.statements]


def name_failing_from_cause(diagnosis: Diagnosis, cause_statement: int | None, present: bool | None) -> None:
    """When the diagnosis could not name the failing statement but the cause re-check found offending
    rows for exactly one statement (``cause_statement``, 0-based), that statement is the failing one."""
    if diagnosis.failing_index is not None or cause_statement is None or present is not True:
        return
    if not 0 <= cause_statement < len(diagnosis.statements):
        return
    diagnosis.failing_index, diagnosis.failing_source = cause_statement, "cause re-check"
    failing = diagnosis.statements[cause_statement]
    diagnosis.statements[cause_statement] = replace(
        failing, reason=f"the failing statement (the re-check finds rows it fails on); {failing.reason}")

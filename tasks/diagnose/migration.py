"""Diagnose one failed migration: each statement checked against the catalog, then the order
rules applied (plain logic: the catalog comes in as a snapshot)."""

from __future__ import annotations

import time
from dataclasses import replace

from migration_guard.tasks.diagnose.effects import EffectChecker
from migration_guard.tasks.diagnose.infer import infer_from_order
from migration_guard.tasks.diagnose.logs import failing_statement_from_logs
from migration_guard.tasks.diagnose.model import Diagnosis
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

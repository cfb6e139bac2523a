"""Diagnose a failed migration statement by statement: done / not_done / partly_done / unknown.

Entry points:
    diagnose_migration(sql, name, snapshot, schema=..., logs=...) -> Diagnosis   (plain logic)
    load_catalog(conn, schemas) -> SchemaSnapshot   (batched: one query per object kind)
"""

from __future__ import annotations

import time

import psycopg

from migration_guard.tasks.diagnose.effects import EffectChecker
from migration_guard.tasks.diagnose.infer import infer_from_order
from migration_guard.tasks.diagnose.logs import failing_statement_from_logs
from migration_guard.tasks.diagnose.model import CommandCheck, Diagnosis, Effect, StatementDiagnosis
from migration_guard.tasks.schema.model import SchemaSnapshot
from migration_guard.tasks.schema.snapshot import snapshot_schema
from migration_guard.tasks.sql.statements import split_statements


def load_catalog(conn: psycopg.Connection, schemas: list[str]) -> SchemaSnapshot:
    """The catalog the diagnosis reads: a schema snapshot (one query per object kind)."""
    return snapshot_schema(conn, schemas)


def diagnose_migration(
    sql_text: str, name: str, snapshot: SchemaSnapshot, *, schema: str = "public", logs: str | None = None
) -> Diagnosis:
    """Decide each statement's effect from the snapshot, then apply order inference.

    Args:
        sql_text: the migration's SQL.
        name: the migration's name (for messages).
        snapshot: the live catalog (see :func:`load_catalog`).
        schema: where unqualified names live (the project's schema).
        logs: the failed ledger row's logs; used to find the failing statement.
    """
    started = time.perf_counter()
    statements = [s for s in split_statements(sql_text, name) if not s.is_transaction_control]
    statements = [s if s.index == i else _reindex(s, i) for i, s in enumerate(statements)]
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


def _reindex(statement, index: int):
    from dataclasses import replace

    return replace(statement, index=index)


__all__ = ["CommandCheck", "Diagnosis", "Effect", "EffectChecker", "StatementDiagnosis", "diagnose_migration",
           "infer_from_order", "load_catalog"]

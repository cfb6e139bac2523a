"""Classify a failed migration: what the ledger's logs say, confirmed against the live database
by dry re-checks (read-only). The rules are in ``cause.py``, the probes in ``rechecks.py``."""

from __future__ import annotations

import psycopg

from migration_guard.tasks.diagnose.model import Diagnosis
from migration_guard.tasks.diagnose.cause import (
    RECHECK_REMAINING,
    FailureCause,
    cause_from_kind,
    kind_from_logs,
    remaining_tables,
    syntax_cause,
    with_blockers,
    with_failing_statement,
    without_known_cause,
)
from migration_guard.tasks.diagnose.rechecks import (
    lock_blockers,
    recheck_remaining,
    recheck_statement,
    remaining_enums,
)
from migration_guard.tasks.schema.model import SchemaSnapshot


def classify_failure(
    conn: psycopg.Connection,
    diagnosis: Diagnosis,
    snapshot: SchemaSnapshot,
    logs: str | None,
    *,
    schema: str = "public",
    lock_age_seconds: float = 1.0,
) -> FailureCause:
    """Classify the failure from the logs and re-check it against the live database (read-only).

    Args:
        conn: a connection to the live database (only read).
        diagnosis: the failed migration, statement by statement.
        snapshot: the live catalog the diagnosis read.
        logs: the failed ledger row's logs (None when the tool wrote none).
        schema: where unqualified names live.
        lock_age_seconds: transactions holding locks at least this long count as blockers.

    Returns:
        The cause: its kind, whether it is still present, the offending rows and blockers.
    """
    sqlstate, kind = kind_from_logs(logs)
    failing = diagnosis.failing
    if failing is not None and failing.node is None:
        return syntax_cause(failing, sqlstate)
    tables = remaining_tables(diagnosis, schema)

    def with_locks(cause: FailureCause) -> FailureCause:
        return with_blockers(cause, lock_blockers(conn, tables, lock_age_seconds))

    new_enums = remaining_enums(diagnosis, schema)
    data_cause = recheck_statement(conn, failing, snapshot, schema, new_enums) if failing is not None else None
    if data_cause is not None and (data_cause.present or _same_failure(kind, data_cause.kind)):
        if data_cause.kind == "unknown" and kind in DATA_KINDS:
            data_cause.kind = kind
        if data_cause.present is False:  # gone for the failing statement: a later one may still fail
            data_cause = recheck_remaining(conn, diagnosis, snapshot, schema) or data_cause
        data_cause.sqlstate = sqlstate
        return with_locks(data_cause)
    cause = cause_from_kind(kind, sqlstate, diagnosis)
    if cause.kind in RECHECK_REMAINING or cause.kind in DATA_KINDS:
        blocking = recheck_remaining(conn, diagnosis, snapshot, schema)
        if blocking is not None:
            blocking.sqlstate = sqlstate
            return with_locks(blocking)
        if cause.kind == "unknown":
            cause = without_known_cause(cause)
    return with_failing_statement(with_locks(cause), failing)


#: failure kinds a data re-check can confirm
DATA_KINDS = ("duplicates", "orphans", "nulls", "check_violation", "uncastable")


def _same_failure(logged: str | None, rechecked: str) -> bool:
    """True when the re-check speaks to the failure the logs name (or the logs name none)."""
    return logged in (None, "unknown", rechecked) or (rechecked == "unknown" and logged in DATA_KINDS)

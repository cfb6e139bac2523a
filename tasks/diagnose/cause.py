"""Why did the migration fail? The failure kinds, and the classification from what the ledger
kept (plain logic, no database).

The SQLSTATE in the ledger's logs classifies the failure when the tool kept it, else a server
message the logs quote. Whether the cause is still there is for the live re-checks
(``rechecks.py``) to say; ``classify.classify_failure`` combines the two. The rules that turn
re-check results into the final cause (lock blockers, an unknown cause that passed every
re-check) are here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pglast import ast

from migration_guard.tasks.diagnose.model import Diagnosis, StatementDiagnosis

_SQLSTATE_PATTERNS = (
    re.compile(r"SQLSTATE[\s:=\[]*([0-9A-Z]{5})"),
    re.compile(r"(?:Database error code|error code|code)[\s:=]+([0-9A-Z]{5})\b", re.IGNORECASE),
)

#: the failure kind each SQLSTATE means (PostgreSQL Appendix A)
KIND_BY_SQLSTATE = {
    "23505": "duplicates", "23503": "orphans", "23502": "nulls", "23514": "check_violation",
    "22P02": "uncastable", "22003": "uncastable", "22001": "uncastable", "42804": "uncastable",
    "55P03": "lock_timeout", "57014": "statement_timeout", "55P04": "unsafe_enum_value",
    "42P01": "missing_object", "42703": "missing_object", "42704": "missing_object", "42883": "missing_object",
    "42501": "permission", "42601": "syntax", "42P07": "already_exists", "42701": "already_exists",
    "42710": "already_exists", "57P01": "connection_lost", "40P01": "deadlock",
}

#: one line per failure kind, for reports
SUMMARIES = {
    "duplicates": "duplicate values block a UNIQUE index or constraint",
    "orphans": "rows reference parents that do not exist, so the FOREIGN KEY cannot be added",
    "nulls": "NULL values block SET NOT NULL",
    "uncastable": "values do not convert to the new column type",
    "check_violation": "rows violate the new CHECK constraint",
    "lock_timeout": "gave up waiting for a lock held by another session (lock_timeout)",
    "lock_contention": "other sessions hold long-running locks on the tables the migration alters",
    "statement_timeout": "a statement ran longer than statement_timeout",
    "unsafe_enum_value": "a new enum value was used in the same transaction that added it",
    "missing_object": "the statement refers to an object that does not exist",
    "permission": "the migration role lacks a privilege",
    "syntax": "the migration does not parse",
    "already_exists": "an object the migration creates already existed",
    "connection_lost": "the connection was lost mid-migration (killed session, restart, network)",
    "deadlock": "a deadlock with another session",
    "unknown": "the cause could not be determined",
}


@dataclass
class FailureCause:
    """The classified cause of a failed migration.

    Attributes:
        kind: duplicates, orphans, nulls, uncastable, check_violation, lock_timeout, lock_contention,
            statement_timeout, unsafe_enum_value, missing_object, permission, syntax,
            already_exists, connection_lost, deadlock, unknown.
        present: True when a dry re-check shows it is still there, False when it is gone,
            None when it cannot be checked without running the statement.
        offending_rows: rows that block the statement (data-dependent causes).
        listing_query: a read-only query that lists those rows.
        sqlstate: from the ledger's logs, when the tool kept it.
    """

    kind: str
    present: bool | None
    summary: str = ""
    detail: str = ""
    offending_rows: int | None = None
    listing_query: str | None = None
    sqlstate: str | None = None
    statement_index: int | None = None
    blockers: list[str] = field(default_factory=list)
    #: what a person does about it, when the generic "fix the offending rows" is not the answer
    fix: str = ""

    def describe(self) -> str:
        """One paragraph for reports."""
        state = {True: "still present", False: "gone now", None: "cannot be re-checked without running it"}[self.present]
        text = f"{self.summary or SUMMARIES.get(self.kind, self.kind)} — {state}"
        if self.sqlstate:
            text += f" (SQLSTATE {self.sqlstate})"
        if self.offending_rows is not None:
            text += f"; {self.offending_rows} offending row(s)"
        if self.detail:
            text += f". {self.detail}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The cause as JSON-ready data (the ``cause`` of ``recover --json``)."""
        return {"kind": self.kind, "present": self.present, "summary": self.summary, "detail": self.detail,
                "offending_rows": self.offending_rows, "listing_query": self.listing_query,
                "sqlstate": self.sqlstate, "statement": None if self.statement_index is None else self.statement_index + 1,
                "blockers": self.blockers, "fix": self.fix}


def sqlstate_from_logs(logs: str | None) -> str | None:
    """The SQLSTATE a ledger log names, if any."""
    for pattern in _SQLSTATE_PATTERNS:
        match = pattern.search(logs or "")
        if match and match.group(1) in KIND_BY_SQLSTATE or (match and match.group(1)[:2].isdigit()):
            return match.group(1)
    return None


#: server messages for causes no dry re-check can see, used only when the logs carry no SQLSTATE
#: (Prisma's schema engine through the harness keeps the message and drops the code)
_SERVER_MESSAGES = (
    ("canceling statement due to lock timeout", "lock_timeout"),
    ("canceling statement due to statement timeout", "statement_timeout"),
    ("terminating connection due to administrator command", "connection_lost"),
    ("server closed the connection unexpectedly", "connection_lost"),
    ("connection terminated", "connection_lost"),
    ("deadlock detected", "deadlock"),
    # Prisma's schema engine through the wasm harness: ``Unique constraint failed: <name>`` ...
    ("null constraint failed", "nulls"),
    ("contains null values", "nulls"),
    ("violates not-null constraint", "nulls"),
    ("unique constraint failed", "duplicates"),
    ("could not create unique index", "duplicates"),
    ("duplicate key value", "duplicates"),
    ("foreign key constraint failed", "orphans"),
    ("violates foreign key constraint", "orphans"),
    ("is violated by some row", "check_violation"),
    ("violates check constraint", "check_violation"),
    ("invalidinputvalue", "uncastable"),
    ("invalid input value", "uncastable"),
    ("invalid input syntax", "uncastable"),
)



def kind_from_server_message(logs: str | None) -> str | None:
    """The failure kind a server message in the logs names (used when they carry no SQLSTATE)."""
    text = (logs or "").lower()
    return next((kind for message, kind in _SERVER_MESSAGES if message in text), None)

def kind_from_logs(logs: str | None) -> tuple[str | None, str | None]:
    """(SQLSTATE, failure kind) from the failed ledger row's logs; either may be None.

    The kind comes from the SQLSTATE, else from a server message the logs quote; with no logs at
    all the session that ran the migration died before it could write them (connection lost).
    """
    sqlstate = sqlstate_from_logs(logs)
    kind = KIND_BY_SQLSTATE.get(sqlstate or "", None)
    if kind is None:
        kind = kind_from_server_message(logs)
    if kind is None and logs is None:
        kind = "connection_lost"
    return sqlstate, kind


def syntax_cause(failing: StatementDiagnosis, sqlstate: str | None) -> FailureCause:
    """The cause when the failing statement does not parse: it is still there until the file changes."""
    return FailureCause("syntax", True, SUMMARIES["syntax"], f"line {failing.line}: {failing.reason}",
                        sqlstate=sqlstate, statement_index=failing.index)


#: kinds that do not outlive the attempt: re-running meets a new session, a fresh timeout, no deadlock
GONE_WITH_THE_ATTEMPT = ("connection_lost", "statement_timeout", "deadlock", "already_exists", "unsafe_enum_value")

#: kinds the logs alone do not settle: the remaining statements' data re-checks may show a cause
RECHECK_REMAINING = GONE_WITH_THE_ATTEMPT + ("unknown", "lock_timeout")


def cause_from_kind(kind: str | None, sqlstate: str | None, diagnosis: Diagnosis) -> FailureCause:
    """The cause the logs (and the statements' order) name, before any live re-check.

    A remaining ``ALTER TYPE ... ADD VALUE`` whose label a later statement uses explains a failure
    the logs do not (SQLSTATE 55P04). Kinds in :data:`GONE_WITH_THE_ATTEMPT` are gone now.
    """
    failing = diagnosis.failing
    if kind is None and enum_value_used_later(diagnosis):
        kind = "unsafe_enum_value"
    cause = FailureCause(kind or "unknown", None, SUMMARIES.get(kind or "unknown", ""), sqlstate=sqlstate,
                         statement_index=failing.index if failing else None)
    if cause.kind in GONE_WITH_THE_ATTEMPT:
        cause.present = False
        if cause.kind == "unsafe_enum_value":
            cause.detail = "recovery commits each ALTER TYPE ... ADD VALUE before the statements that use it"
    return cause


def without_known_cause(cause: FailureCause) -> FailureCause:
    """An ``unknown`` cause once every remaining statement passed its dry re-check: nothing blocks now."""
    cause.present = False
    cause.summary = "the logs do not say why it failed"
    cause.detail = "every remaining statement passed its dry re-check"
    return cause


def with_blockers(cause: FailureCause, blockers: list[str]) -> FailureCause:
    """Add the sessions holding long-running locks on the tables the remaining statements alter:
    while they do, re-running would queue or time out again (the cause is present)."""
    cause.blockers = list(blockers)
    if cause.blockers:
        if cause.kind == "unknown":
            cause.kind = "lock_contention"
            cause.summary = SUMMARIES["lock_contention"]
        cause.present = True
        cause.detail = (cause.detail + ". " if cause.detail else "") + "Blocking now: " + "; ".join(cause.blockers)
    elif cause.kind == "lock_timeout":
        cause.present = False
        cause.detail = "no session holds a long-running lock on those tables now"
    return cause


def with_failing_statement(cause: FailureCause, failing: StatementDiagnosis | None) -> FailureCause:
    """Name the statement that refers to a missing object (the logs' message names only the object)."""
    if cause.kind == "missing_object" and failing is not None:
        cause.detail = f"statement {failing.index + 1} (line {failing.line}): {failing.summary}"
    return cause


def remaining_tables(diagnosis: Diagnosis, schema: str) -> list[tuple[str, str]]:
    """(schema, table) pairs the remaining statements lock, sorted."""
    return sorted({t for s in diagnosis.remaining for t in touched_tables(s.node, schema)})


def touched_tables(node: Any, schema: str) -> list[tuple[str, str]]:
    """(schema, table) pairs a DDL statement locks."""
    relation = getattr(node, "relation", None)
    if isinstance(relation, ast.RangeVar):
        return [(relation.schemaname or schema, relation.relname)]
    return []


def enum_value_used_later(diagnosis: Diagnosis) -> bool:
    """True when a remaining ALTER TYPE ... ADD VALUE's label is used by a later remaining statement
    (PostgreSQL refuses that inside one transaction: SQLSTATE 55P04)."""
    added: set[str] = set()
    for statement in diagnosis.remaining:
        if isinstance(statement.node, ast.AlterEnumStmt) and statement.node.newVal:
            added.add(statement.node.newVal)
        elif any(f"'{value}'" in statement.text for value in added):
            return True
    return False

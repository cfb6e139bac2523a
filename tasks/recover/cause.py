"""Why did the migration fail, and is that reason still there? (logs + dry re-checks)

The SQLSTATE in the ledger's logs classifies the failure when the tool kept it; a dry re-check of
the failing statement against the live data says whether the cause is still present: duplicates
for a UNIQUE index or constraint, NULLs for SET NOT NULL, orphans for a FOREIGN KEY, values that do
not cast for a TYPE change, sessions holding locks on the tables for a lock timeout. For
data-dependent causes the offending row count and the query that lists them are reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import psycopg
from pglast import ast, enums
from pglast.stream import RawStream

from migration_guard.tasks.diagnose.model import Diagnosis, Effect, StatementDiagnosis
from migration_guard.tasks.diagnose.types import format_type_name
from migration_guard.tasks.schema.model import SchemaSnapshot

AT = enums.AlterTableType
CT = enums.ConstrType

_SQLSTATE_PATTERNS = (
    re.compile(r"SQLSTATE[\s:=\[]*([0-9A-Z]{5})"),
    re.compile(r"(?:Database error code|error code|code)[\s:=]+([0-9A-Z]{5})\b", re.IGNORECASE),
)

_KIND_BY_SQLSTATE = {
    "23505": "duplicates", "23503": "orphans", "23502": "nulls", "23514": "check_violation",
    "22P02": "uncastable", "22003": "uncastable", "22001": "uncastable", "42804": "uncastable",
    "55P03": "lock_timeout", "57014": "statement_timeout", "55P04": "unsafe_enum_value",
    "42P01": "missing_object", "42703": "missing_object", "42704": "missing_object", "42883": "missing_object",
    "42501": "permission", "42601": "syntax", "42P07": "already_exists", "42701": "already_exists",
    "42710": "already_exists", "57P01": "connection_lost", "40P01": "deadlock",
}

_SUMMARY = {
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

    def describe(self) -> str:
        """One paragraph for reports."""
        state = {True: "still present", False: "gone now", None: "cannot be re-checked without running it"}[self.present]
        text = f"{self.summary or _SUMMARY.get(self.kind, self.kind)} — {state}"
        if self.sqlstate:
            text += f" (SQLSTATE {self.sqlstate})"
        if self.offending_rows is not None:
            text += f"; {self.offending_rows} offending row(s)"
        if self.detail:
            text += f". {self.detail}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "present": self.present, "summary": self.summary, "detail": self.detail,
                "offending_rows": self.offending_rows, "listing_query": self.listing_query,
                "sqlstate": self.sqlstate, "statement": None if self.statement_index is None else self.statement_index + 1,
                "blockers": self.blockers}


def sqlstate_from_logs(logs: str | None) -> str | None:
    """The SQLSTATE a ledger log names, if any."""
    for pattern in _SQLSTATE_PATTERNS:
        match = pattern.search(logs or "")
        if match and match.group(1) in _KIND_BY_SQLSTATE or (match and match.group(1)[:2].isdigit()):
            return match.group(1)
    return None


def quote(name: str) -> str:
    """An identifier quoted for SQL (what psycopg.sql.Identifier renders)."""
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, name: str) -> str:
    return f"{quote(schema)}.{quote(name)}"


def classify_failure(
    conn: psycopg.Connection,
    diagnosis: Diagnosis,
    snapshot: SchemaSnapshot,
    logs: str | None,
    *,
    schema: str = "public",
    lock_age_seconds: float = 1.0,
) -> FailureCause:
    """Classify the failure from the logs and re-check it against the live database (read-only)."""
    sqlstate = sqlstate_from_logs(logs)
    failing = diagnosis.failing
    kind = _KIND_BY_SQLSTATE.get(sqlstate or "", None)
    if failing is not None and failing.node is None:
        return FailureCause("syntax", True, _SUMMARY["syntax"], f"line {failing.line}: {failing.reason}",
                            sqlstate=sqlstate, statement_index=failing.index)
    if kind is None:
        kind = _kind_from_server_message(logs)
    if kind is None and logs is None:
        kind = "connection_lost"
    data_cause = _data_recheck(conn, failing, snapshot, schema) if failing is not None else None
    if data_cause is not None and (data_cause.present or kind in (None, data_cause.kind)):
        data_cause.sqlstate = sqlstate
        return _with_locks(conn, data_cause, diagnosis, schema, lock_age_seconds)
    if kind is None and _enum_value_used_later(diagnosis):
        kind = "unsafe_enum_value"
    cause = FailureCause(kind or "unknown", None, _SUMMARY.get(kind or "unknown", ""), sqlstate=sqlstate,
                         statement_index=failing.index if failing else None)
    if cause.kind in ("connection_lost", "statement_timeout", "deadlock", "already_exists", "unsafe_enum_value"):
        cause.present = False
        if cause.kind == "unsafe_enum_value":
            cause.detail = "recovery commits each ALTER TYPE ... ADD VALUE before the statements that use it"
    if cause.kind in ("unknown", "connection_lost", "statement_timeout", "deadlock", "already_exists",
                      "unsafe_enum_value", "lock_timeout"):
        blocking = _recheck_remaining(conn, diagnosis, snapshot, schema)
        if blocking is not None:
            blocking.sqlstate = sqlstate
            return _with_locks(conn, blocking, diagnosis, schema, lock_age_seconds)
        if cause.kind == "unknown":
            cause.present = False
            cause.summary = "the logs do not say why it failed"
            cause.detail = "every remaining statement passed its dry re-check"
    cause = _with_locks(conn, cause, diagnosis, schema, lock_age_seconds)
    if cause.kind == "missing_object" and failing is not None:
        cause.detail = f"statement {failing.index + 1} (line {failing.line}): {failing.summary}"
    return cause


def _recheck_remaining(conn: psycopg.Connection, diagnosis: Diagnosis, snapshot: SchemaSnapshot,
                       schema: str) -> FailureCause | None:
    """The first remaining statement whose data re-check fails now (or cannot be done), if any."""
    for statement in diagnosis.remaining:
        cause = _data_recheck(conn, statement, snapshot, schema)
        if cause is not None and cause.present is not False:
            return cause
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
)


def _kind_from_server_message(logs: str | None) -> str | None:
    text = (logs or "").lower()
    return next((kind for message, kind in _SERVER_MESSAGES if message in text), None)


def _with_locks(conn, cause: FailureCause, diagnosis: Diagnosis, schema: str, min_age: float) -> FailureCause:
    """Add the sessions that hold locks (in transactions older than ``min_age`` s) on the tables
    the remaining statements alter: while they do, re-running would queue or time out again."""
    from migration_guard.tasks.catalog import locks_on_tables

    tables = sorted({t for s in diagnosis.remaining for t in touched_tables(s.node, schema)})
    locks = locks_on_tables(conn, tables) if tables else []
    seen: dict[int, str] = {}
    for lock in locks:
        if lock.granted and (lock.session.age_seconds or 0) >= min_age:
            seen.setdefault(lock.session.pid, f"{lock.mode} on {lock.table} held by {lock.session.describe()}")
    cause.blockers = list(seen.values())
    if cause.blockers:
        if cause.kind == "unknown":
            cause.kind = "lock_contention"
            cause.summary = _SUMMARY["lock_contention"]
        cause.present = True
        cause.detail = (cause.detail + ". " if cause.detail else "") + "Blocking now: " + "; ".join(cause.blockers)
    elif cause.kind == "lock_timeout":
        cause.present = False
        cause.detail = "no session holds a long-running lock on those tables now"
    return cause


def touched_tables(node: Any, schema: str) -> list[tuple[str, str]]:
    """(schema, table) pairs a DDL statement locks."""
    relation = getattr(node, "relation", None)
    if isinstance(relation, ast.RangeVar):
        return [(relation.schemaname or schema, relation.relname)]
    return []


def _enum_value_used_later(diagnosis: Diagnosis) -> bool:
    """True when a remaining ALTER TYPE ... ADD VALUE's label is used by a later remaining statement
    (PostgreSQL refuses that inside one transaction: SQLSTATE 55P04)."""
    added: set[str] = set()
    for statement in diagnosis.remaining:
        if isinstance(statement.node, ast.AlterEnumStmt) and statement.node.newVal:
            added.add(statement.node.newVal)
        elif any(f"'{value}'" in statement.text for value in added):
            return True
    return False


# ---- data re-checks
def _data_recheck(conn: psycopg.Connection, failing: StatementDiagnosis, snapshot: SchemaSnapshot,
                  schema: str) -> FailureCause | None:
    node = failing.node
    if isinstance(node, ast.IndexStmt) and node.unique:
        columns = [p.name for p in node.indexParams or ()]
        if all(columns):
            return _duplicates(conn, failing, (node.relation.schemaname or schema, node.relation.relname), columns)
        return None
    if not isinstance(node, ast.AlterTableStmt):
        return None
    table = (node.relation.schemaname or schema, node.relation.relname)
    for index, cmd in enumerate(node.cmds or ()):
        if failing.commands and failing.commands[index].effect is Effect.DONE:
            continue
        definition = cmd.def_
        if cmd.subtype == AT.AT_AddConstraint and isinstance(definition, ast.Constraint):
            if definition.skip_validation:
                continue  # NOT VALID: existing rows are not checked
            if definition.contype == CT.CONSTR_FOREIGN:
                return _orphans(conn, failing, table, definition, snapshot, schema)
            if definition.contype in (CT.CONSTR_UNIQUE, CT.CONSTR_PRIMARY) and definition.keys:
                return _duplicates(conn, failing, table, [k.sval for k in definition.keys],
                                   nulls_too=definition.contype == CT.CONSTR_PRIMARY)
            if definition.contype == CT.CONSTR_CHECK and definition.raw_expr is not None:
                expression = RawStream()(definition.raw_expr)
                where = f"NOT ({expression})"
                return _count(conn, failing, "check_violation", table, where,
                              f"rows where the check ({expression}) is false")
        if cmd.subtype == AT.AT_SetNotNull:
            return _count(conn, failing, "nulls", table, f"{quote(cmd.name)} IS NULL", f"NULLs in {cmd.name}")
        if cmd.subtype == AT.AT_AlterColumnType and isinstance(definition, ast.ColumnDef):
            return _uncastable(conn, failing, table, cmd.name, definition, schema)
    return None


def _count(conn, failing: StatementDiagnosis, kind: str, table: tuple[str, str], where: str, what: str) -> FailureCause:
    listing = f"SELECT * FROM {qualified(*table)} WHERE {where}"
    try:
        rows = conn.execute(f"SELECT count(*) FROM {qualified(*table)} WHERE {where}").fetchone()[0]
    except psycopg.Error as exc:
        return FailureCause(kind, None, _SUMMARY[kind], f"the re-check failed: {exc.diag.message_primary}",
                            listing_query=listing, statement_index=failing.index)
    return FailureCause(kind, rows > 0, _SUMMARY[kind], f"{rows} {what}" if rows else f"no {what} now",
                        offending_rows=rows, listing_query=listing + ";", statement_index=failing.index)


def _duplicates(conn, failing, table, columns: list[str], nulls_too: bool = False) -> FailureCause:
    cols = ", ".join(quote(c) for c in columns)
    not_null = " AND ".join(f"{quote(c)} IS NOT NULL" for c in columns)
    groups = (f"SELECT {cols}, count(*) AS copies FROM {qualified(*table)} WHERE {not_null} "
              f"GROUP BY {cols} HAVING count(*) > 1")
    listing = f"{groups} ORDER BY copies DESC;"
    try:
        rows = conn.execute(f"SELECT coalesce(sum(copies), 0)::bigint FROM ({groups}) d").fetchone()[0]
        nulls = conn.execute(
            f"SELECT count(*) FROM {qualified(*table)} WHERE NOT ({not_null})").fetchone()[0] if nulls_too else 0
    except psycopg.Error as exc:
        return FailureCause("duplicates", None, _SUMMARY["duplicates"], f"the re-check failed: {exc.diag.message_primary}",
                            listing_query=listing, statement_index=failing.index)
    detail = f"{rows} rows share a value of ({', '.join(columns)})" if rows else f"no duplicate ({', '.join(columns)}) now"
    if nulls:
        detail += f"; {nulls} rows have NULLs in the key"
    return FailureCause("duplicates", rows + nulls > 0, _SUMMARY["duplicates"], detail, offending_rows=rows + nulls,
                        listing_query=listing, statement_index=failing.index)


def _orphans(conn, failing, table, constraint: ast.Constraint, snapshot: SchemaSnapshot, schema: str) -> FailureCause:
    parent = (constraint.pktable.schemaname or schema, constraint.pktable.relname)
    child_cols = [a.sval for a in constraint.fk_attrs or ()]
    parent_cols = [a.sval for a in constraint.pk_attrs or ()]
    if not parent_cols:  # REFERENCES parent without columns: the parent's primary key
        primary = next((c for c in snapshot.table_constraints(*parent) if c.type == "p"), None)
        parent_cols = list(primary.columns) if primary else []
    if not parent_cols or len(parent_cols) != len(child_cols):
        return FailureCause("orphans", None, _SUMMARY["orphans"], "the referenced key could not be determined",
                            statement_index=failing.index)
    present = " AND ".join(f"c.{quote(c)} IS NOT NULL" for c in child_cols)
    match = " AND ".join(f"p.{quote(p)} = c.{quote(c)}" for c, p in zip(child_cols, parent_cols))
    where = f"{present} AND NOT EXISTS (SELECT 1 FROM {qualified(*parent)} p WHERE {match})"
    listing = f"SELECT c.* FROM {qualified(*table)} c WHERE {where};"
    try:
        rows = conn.execute(f"SELECT count(*) FROM {qualified(*table)} c WHERE {where}").fetchone()[0]
    except psycopg.Error as exc:
        return FailureCause("orphans", None, _SUMMARY["orphans"], f"the re-check failed: {exc.diag.message_primary}",
                            listing_query=listing, statement_index=failing.index)
    detail = (f"{rows} rows of {table[1]} reference a missing {parent[1]} ({', '.join(child_cols)})" if rows
              else f"no orphan rows in {table[1]} now")
    return FailureCause("orphans", rows > 0, _SUMMARY["orphans"], detail, offending_rows=rows,
                        listing_query=listing, statement_index=failing.index)


_LENGTH_LIMITED = re.compile(r"^(?:character varying|character|bit varying|bit)\((\d+)\)$")
_CASTABLE_FUNCTION = (
    "CREATE OR REPLACE FUNCTION pg_temp.mg_castable(value text, target text) RETURNS boolean "
    "LANGUAGE plpgsql AS $f$ BEGIN EXECUTE format('SELECT %L::%s', value, target); RETURN true; "
    "EXCEPTION WHEN others THEN RETURN false; END $f$"
)


def _uncastable(conn, failing, table, column: str, definition: ast.ColumnDef, schema: str) -> FailureCause:
    target = format_type_name(definition.typeName, schema)
    using = definition.raw_default
    if isinstance(using, ast.TypeCast) and isinstance(using.arg, ast.ColumnRef) and \
            [f.sval for f in using.arg.fields if isinstance(f, ast.String)][-1:] == [column]:
        target, using = format_type_name(using.typeName, schema), None  # USING col::type is the plain cast
    if target is None or using is not None:
        return FailureCause("uncastable", None, _SUMMARY["uncastable"],
                            "the conversion (USING ...) can only be checked by running it", statement_index=failing.index)
    col = quote(column)
    length = _LENGTH_LIMITED.match(target)
    if length:  # an explicit cast truncates silently; the ALTER fails on longer values (22001)
        return _count(conn, failing, "uncastable", table, f"length({col}::text) > {int(length.group(1))}",
                      f"values of {column} longer than {target}")
    if int(conn.info.server_version) >= 160000:
        where = f"{col} IS NOT NULL AND NOT pg_input_is_valid({col}::text, '{target}')"
        prefix = ""
    else:
        conn.execute(_CASTABLE_FUNCTION)
        where = f"{col} IS NOT NULL AND NOT pg_temp.mg_castable({col}::text, '{target}')"
        prefix = _CASTABLE_FUNCTION + ";\n"
    cause = _count(conn, failing, "uncastable", table, where, f"values of {column} that are not valid {target}")
    if cause.listing_query:
        cause.listing_query = prefix + cause.listing_query
    return cause

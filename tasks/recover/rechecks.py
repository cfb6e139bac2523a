"""The live probes of a failure's cause (read-only I/O): dry re-checks of the data a statement
needs, and the sessions holding locks on the tables it alters.

For data-dependent causes the offending rows are counted and a query that lists them is
returned: duplicates for a UNIQUE index or constraint, NULLs for SET NOT NULL, orphans for a
FOREIGN KEY, rows failing a CHECK, values that do not cast for a TYPE change.
"""

from __future__ import annotations

import re

import psycopg
from psycopg import sql
from pglast import ast, enums
from pglast.stream import RawStream

from migration_guard.tasks.catalog import locks_on_tables
from migration_guard.tasks.diagnose.model import Diagnosis, Effect, StatementDiagnosis
from migration_guard.tasks.diagnose.types import format_type_name
from migration_guard.tasks.recover.cause import SUMMARIES, FailureCause
from migration_guard.tasks.schema.model import SchemaSnapshot
from migration_guard.tasks.sql.identifiers import qualified, quoted

AT = enums.AlterTableType
CT = enums.ConstrType


def recheck_statement(conn: psycopg.Connection, failing: StatementDiagnosis, snapshot: SchemaSnapshot,
                      schema: str) -> FailureCause | None:
    """Re-check one statement's data-dependent cause against the live rows (read-only).

    Returns:
        The cause with its offending row count and listing query (``present`` False when no row
        blocks now, None when the re-check itself failed or cannot be done without running the
        statement), or None when the statement has no data-dependent cause to check.
    """
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
            return _count(conn, failing, "nulls", table, f"{quoted(cmd.name)} IS NULL", f"NULLs in {cmd.name}")
        if cmd.subtype == AT.AT_AlterColumnType and isinstance(definition, ast.ColumnDef):
            return _uncastable(conn, failing, table, cmd.name, definition, schema)
    return None


def _count(conn: psycopg.Connection, failing: StatementDiagnosis, kind: str, table: tuple[str, str], where: str,
           what: str) -> FailureCause:
    listing = f"SELECT * FROM {qualified(*table)} WHERE {where}"
    try:
        rows = conn.execute(f"SELECT count(*) FROM {qualified(*table)} WHERE {where}").fetchone()[0]
    except psycopg.Error as exc:
        return FailureCause(kind, None, SUMMARIES[kind], f"the re-check failed: {exc.diag.message_primary}",
                            listing_query=listing, statement_index=failing.index)
    return FailureCause(kind, rows > 0, SUMMARIES[kind], f"{rows} {what}" if rows else f"no {what} now",
                        offending_rows=rows, listing_query=listing + ";", statement_index=failing.index)


def _duplicates(conn: psycopg.Connection, failing: StatementDiagnosis, table: tuple[str, str], columns: list[str],
                nulls_too: bool = False) -> FailureCause:
    cols = ", ".join(quoted(c) for c in columns)
    not_null = " AND ".join(f"{quoted(c)} IS NOT NULL" for c in columns)
    groups = (f"SELECT {cols}, count(*) AS copies FROM {qualified(*table)} WHERE {not_null} "
              f"GROUP BY {cols} HAVING count(*) > 1")
    listing = f"{groups} ORDER BY copies DESC;"
    try:
        rows = conn.execute(f"SELECT coalesce(sum(copies), 0)::bigint FROM ({groups}) d").fetchone()[0]
        nulls = conn.execute(
            f"SELECT count(*) FROM {qualified(*table)} WHERE NOT ({not_null})").fetchone()[0] if nulls_too else 0
    except psycopg.Error as exc:
        return FailureCause("duplicates", None, SUMMARIES["duplicates"], f"the re-check failed: {exc.diag.message_primary}",
                            listing_query=listing, statement_index=failing.index)
    detail = f"{rows} rows share a value of ({', '.join(columns)})" if rows else f"no duplicate ({', '.join(columns)}) now"
    if nulls:
        detail += f"; {nulls} rows have NULLs in the key"
    return FailureCause("duplicates", rows + nulls > 0, SUMMARIES["duplicates"], detail, offending_rows=rows + nulls,
                        listing_query=listing, statement_index=failing.index)


def _orphans(conn: psycopg.Connection, failing: StatementDiagnosis, table: tuple[str, str], constraint: ast.Constraint,
             snapshot: SchemaSnapshot, schema: str) -> FailureCause:
    parent = (constraint.pktable.schemaname or schema, constraint.pktable.relname)
    child_cols = [a.sval for a in constraint.fk_attrs or ()]
    parent_cols = [a.sval for a in constraint.pk_attrs or ()]
    if not parent_cols:  # REFERENCES parent without columns: the parent's primary key
        primary = next((c for c in snapshot.table_constraints(*parent) if c.type == "p"), None)
        parent_cols = list(primary.columns) if primary else []
    if not parent_cols or len(parent_cols) != len(child_cols):
        return FailureCause("orphans", None, SUMMARIES["orphans"], "the referenced key could not be determined",
                            statement_index=failing.index)
    present = " AND ".join(f"c.{quoted(c)} IS NOT NULL" for c in child_cols)
    match = " AND ".join(f"p.{quoted(p)} = c.{quoted(c)}" for c, p in zip(child_cols, parent_cols))
    where = f"{present} AND NOT EXISTS (SELECT 1 FROM {qualified(*parent)} p WHERE {match})"
    listing = f"SELECT c.* FROM {qualified(*table)} c WHERE {where};"
    try:
        rows = conn.execute(f"SELECT count(*) FROM {qualified(*table)} c WHERE {where}").fetchone()[0]
    except psycopg.Error as exc:
        return FailureCause("orphans", None, SUMMARIES["orphans"], f"the re-check failed: {exc.diag.message_primary}",
                            listing_query=listing, statement_index=failing.index)
    detail = (f"{rows} rows of {table[1]} reference a missing {parent[1]} ({', '.join(child_cols)})" if rows
              else f"no orphan rows in {table[1]} now")
    return FailureCause("orphans", rows > 0, SUMMARIES["orphans"], detail, offending_rows=rows,
                        listing_query=listing, statement_index=failing.index)


_LENGTH_LIMITED = re.compile(r"^(?:character varying|character|bit varying|bit)\((\d+)\)$")
_CASTABLE_FUNCTION = (
    "CREATE OR REPLACE FUNCTION pg_temp.mg_castable(value text, target text) RETURNS boolean "
    "LANGUAGE plpgsql AS $f$ BEGIN EXECUTE format('SELECT %L::%s', value, target); RETURN true; "
    "EXCEPTION WHEN others THEN RETURN false; END $f$"
)


def _uncastable(conn: psycopg.Connection, failing: StatementDiagnosis, table: tuple[str, str], column: str,
                definition: ast.ColumnDef, schema: str) -> FailureCause:
    target = format_type_name(definition.typeName, schema)
    using = definition.raw_default
    if isinstance(using, ast.TypeCast) and isinstance(using.arg, ast.ColumnRef) and \
            [f.sval for f in using.arg.fields if isinstance(f, ast.String)][-1:] == [column]:
        target, using = format_type_name(using.typeName, schema), None  # USING col::type is the plain cast
    if target is None or using is not None:
        return FailureCause("uncastable", None, SUMMARIES["uncastable"],
                            "the conversion (USING ...) can only be checked by running it", statement_index=failing.index)
    col = quoted(column)
    length = _LENGTH_LIMITED.match(target)
    if length:  # an explicit cast truncates silently; the ALTER fails on longer values (22001)
        return _count(conn, failing, "uncastable", table, f"length({col}::text) > {int(length.group(1))}",
                      f"values of {column} longer than {target}")
    type_literal = sql.Literal(target).as_string(conn)
    if int(conn.info.server_version) >= 160000:
        where = f"{col} IS NOT NULL AND NOT pg_input_is_valid({col}::text, {type_literal})"
        prefix = ""
    else:
        conn.execute(_CASTABLE_FUNCTION)
        where = f"{col} IS NOT NULL AND NOT pg_temp.mg_castable({col}::text, {type_literal})"
        prefix = _CASTABLE_FUNCTION + ";\n"
    cause = _count(conn, failing, "uncastable", table, where, f"values of {column} that are not valid {target}")
    if cause.listing_query:
        cause.listing_query = prefix + cause.listing_query
    return cause


def recheck_remaining(conn: psycopg.Connection, diagnosis: Diagnosis, snapshot: SchemaSnapshot,
                      schema: str) -> FailureCause | None:
    """The first remaining statement whose data re-check fails now (or cannot be done), if any (read-only)."""
    for statement in diagnosis.remaining:
        cause = recheck_statement(conn, statement, snapshot, schema)
        if cause is not None and cause.present is not False:
            return cause
    return None


def lock_blockers(conn: psycopg.Connection, tables: list[tuple[str, str]], min_age: float) -> list[str]:
    """The sessions holding granted locks on ``tables`` in transactions older than ``min_age`` seconds,
    one line each (``mode on table held by session``); no query when ``tables`` is empty."""
    locks = locks_on_tables(conn, tables) if tables else []
    seen: dict[int, str] = {}
    for lock in locks:
        if lock.granted and (lock.session.age_seconds or 0) >= min_age:
            seen.setdefault(lock.session.pid, f"{lock.mode} on {lock.table} held by {lock.session.describe()}")
    return list(seen.values())

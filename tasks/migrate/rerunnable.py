"""Make statements that run outside a transaction safe to run again.

A non-transactional statement (``CREATE INDEX CONCURRENTLY`` ...) that fails halfway leaves
something behind (an INVALID index) and cannot be rolled back, so the step-by-step path runs a
re-runnable form of it: ``IF NOT EXISTS`` / ``IF EXISTS`` added, and a leftover INVALID index of
the same name dropped before the next attempt. Plain logic here; ``prepare`` runs the lookup.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from pglast import ast
from pglast.stream import RawStream
from psycopg import sql

from migration_guard.tasks.sql.identifiers import qualified, quoted
from migration_guard.tasks.sql.statements import Statement


@dataclass(frozen=True)
class Step:
    """One unit the executor runs.

    Attributes:
        sql: the text to execute.
        label: short description for logs (``statement 3 (line 12)``).
        transactional: False when it must run outside a transaction block.
        statement: the parsed statement it came from, when there is one.
        rewritten: True when ``sql`` differs from the file (made re-runnable).
        prepare: run before every attempt (e.g. drop a leftover INVALID index); returns what it did.
        warning: why the statement could not be made re-runnable, if so.
    """

    sql: str
    label: str
    transactional: bool = True
    statement: Statement | None = None
    rewritten: bool = False
    prepare: Callable[[psycopg.Connection], list[str]] | None = field(default=None, repr=False, compare=False)
    warning: str | None = None


def step_for(statement: Statement) -> Step:
    """The Step that runs ``statement``; non-transactional index statements are made re-runnable."""
    label = f"statement {statement.index + 1} (line {statement.line})"
    node = statement.node
    if statement.transactional:
        return Step(statement.text, label, True, statement)
    if isinstance(node, ast.IndexStmt):
        return _create_index_step(statement, node, label)
    if isinstance(node, ast.DropStmt) and not node.missing_ok:
        rewritten = copy.deepcopy(node)
        rewritten.missing_ok = True
        return Step(RawStream()(rewritten), label, False, statement, rewritten=True)
    return Step(statement.text, label, False, statement)


def steps_for(statements: list[Statement]) -> list[Step]:
    """``step_for`` of each statement, skipping transaction control (BEGIN / COMMIT ...)."""
    return [step_for(s) for s in statements if not s.is_transaction_control]


def _create_index_step(statement: Statement, node: ast.IndexStmt, label: str) -> Step:
    if not node.idxname:
        return Step(
            statement.text, label, False, statement,
            warning="an unnamed CREATE INDEX CONCURRENTLY cannot be made re-runnable; name the index",
        )
    text = statement.text
    rewritten = False
    if not node.if_not_exists:
        new_node = copy.deepcopy(node)
        new_node.if_not_exists = True
        text, rewritten = RawStream()(new_node), True
    schema = node.relation.schemaname if node.relation is not None else None
    table = node.relation.relname if node.relation is not None else None
    index_name = node.idxname

    def drop_invalid_leftover(conn: psycopg.Connection) -> list[str]:
        return drop_invalid_index(conn, index_name, table_schema=schema, table=table)

    return Step(text, label, False, statement, rewritten=rewritten, prepare=drop_invalid_leftover)


def drop_invalid_index(
    conn: psycopg.Connection, index_name: str, *, table_schema: str | None, table: str | None
) -> list[str]:
    """Drop the index ``index_name`` (in ``table``'s schema) if it exists and is INVALID.

    Returns the DROP statements run (empty when there was nothing to drop). ``conn`` must be in
    autocommit mode (DROP INDEX CONCURRENTLY).
    """
    if table is None:
        return []
    regclass = qualified(table_schema, table) if table_schema else quoted(table)
    row = conn.execute(
        "SELECT n.nspname FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = %s AND NOT i.indisvalid "
        "AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = to_regclass(%s))",
        (index_name, regclass),
    ).fetchone()
    if row is None:
        return []
    drop = sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}.{}").format(sql.Identifier(row[0]), sql.Identifier(index_name))
    conn.execute(drop)
    return [drop.as_string(conn)]

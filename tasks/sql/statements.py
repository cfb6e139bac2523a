"""Split a migration into statements with spans, parse each, and say which can run in a transaction.

One parse of the whole file when it is valid (fast path); when it is not, the scanner splits it and
each piece is parsed alone, so a syntax error is pinned to its statement, line and column.
Offsets are characters (pglast reports character offsets for str input).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pglast
from pglast import ast
from pglast.parser import ParseError, scan


@dataclass(frozen=True)
class SourceText:
    """A migration's text with a line index for offset → (line, column) lookups."""

    text: str
    name: str = "<sql>"

    @cached_property
    def _line_starts(self) -> list[int]:
        starts = [0]
        find = self.text.find
        position = find("\n")
        while position != -1:
            starts.append(position + 1)
            position = find("\n", position + 1)
        return starts

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        line_index = bisect.bisect_right(self._line_starts, offset) - 1
        return line_index + 1, offset - self._line_starts[line_index] + 1


@dataclass(frozen=True)
class Statement:
    """One statement of a migration.

    Attributes:
        index: 0-based position in the file.
        text: the statement's text (no trailing semicolon).
        start / end: character offsets in the file (end exclusive).
        line / column / end_line: 1-based position of the start, and the last line.
        node: the pglast AST node (``ast.CreateStmt`` ...), None when it did not parse.
        error: the parse error message, or None; error_line / error_column locate it.
        preceding: the text between the previous statement and this one (comments live here).
    """

    index: int
    text: str
    start: int
    end: int
    line: int
    column: int
    end_line: int
    node: Any = None
    error: str | None = None
    error_line: int | None = None
    error_column: int | None = None
    preceding: str = field(default="", repr=False)

    @property
    def kind(self) -> str:
        """The AST node's class name (``CreateStmt``, ``IndexStmt`` ...) or ``ParseError``."""
        return type(self.node).__name__ if self.node is not None else "ParseError"

    @property
    def transactional(self) -> bool:
        """False for statements PostgreSQL refuses inside a transaction block."""
        return self.node is None or can_run_in_transaction(self.node)

    @property
    def is_transaction_control(self) -> bool:
        """BEGIN / COMMIT / ROLLBACK / SAVEPOINT ... written in the migration itself."""
        return isinstance(self.node, ast.TransactionStmt)


def split_statements(text: str, name: str = "<sql>") -> list[Statement]:
    """Every statement of ``text`` with spans; parse errors become statements with ``error`` set.

    Never raises on bad SQL: an unterminated quote or ``$$`` yields one statement with an error.
    """
    source = SourceText(text, name)
    try:
        raw_statements = pglast.parse_sql(text)
    except ParseError:
        return _split_with_errors(source)
    statements = []
    previous_end = 0
    for index, raw in enumerate(raw_statements):
        start = raw.stmt_location or 0
        length = raw.stmt_len or (len(text) - start)
        start, end = _trim(text, start, start + length)
        statements.append(_statement(source, index, start, end, raw.stmt, previous_end))
        previous_end = end
    return statements


def _split_with_errors(source: SourceText) -> list[Statement]:
    text = source.text
    try:
        spans = _scan_spans(text)
    except ParseError as exc:
        start, end = _trim(text, 0, len(text))
        return [_error_statement(source, 0, start, end, exc, 0, 0)] if end > start else []
    statements: list[Statement] = []
    previous_end = 0
    for start, end in spans:
        index = len(statements)
        try:
            parsed = pglast.parse_sql(text[start:end])
        except ParseError as exc:
            statements.append(_error_statement(source, index, start, end, exc, start, previous_end))
        else:
            node = parsed[0].stmt if parsed else None
            statements.append(_statement(source, index, start, end, node, previous_end))
        previous_end = end
    return statements


def _scan_spans(text: str) -> list[tuple[int, int]]:
    """Statement spans from PostgreSQL's scanner: split at top-level semicolons, skip comments.

    Used only when the file does not parse (the parser's spans are used otherwise).
    """
    spans: list[tuple[int, int]] = []
    start: int | None = None
    last_end = 0
    depth = 0
    atomic = 0  # open BEGIN ATOMIC ... END function bodies: their ';' do not end the statement
    cases = 0  # CASE ... END inside such a body
    previous = ""
    for token in scan(text):
        if token.name in ("SQL_COMMENT", "C_COMMENT"):
            continue
        if token.name == "ASCII_59" and depth == 0 and atomic == 0:
            if start is not None:
                spans.append((start, last_end))
            start = None
            previous = token.name
            continue
        if token.name == "ASCII_40":
            depth += 1
        elif token.name == "ASCII_41":
            depth = max(0, depth - 1)
        elif token.name == "ATOMIC" and previous == "BEGIN_P":
            atomic += 1
        elif atomic and token.name == "CASE":
            cases += 1
        elif atomic and token.name == "END_P":
            if cases:
                cases -= 1
            else:
                atomic -= 1
        previous = token.name
        if start is None:
            start = token.start
        last_end = token.end + 1
    if start is not None:
        spans.append((start, last_end))
    return spans


def _statement(source: SourceText, index: int, start: int, end: int, node: Any, previous_end: int) -> Statement:
    line, column = source.line_col(start)
    end_line, _ = source.line_col(max(start, end - 1))
    return Statement(
        index=index, text=source.text[start:end], start=start, end=end, line=line, column=column,
        end_line=end_line, node=node, preceding=source.text[previous_end:start],
    )


def _error_statement(
    source: SourceText, index: int, start: int, end: int, exc: ParseError, base: int, previous_end: int
) -> Statement:
    offset = base + (exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0)
    offset = min(max(offset, start), max(start, end - 1))
    error_line, error_column = source.line_col(offset)
    line, column = source.line_col(start)
    end_line, _ = source.line_col(max(start, end - 1))
    return Statement(
        index=index, text=source.text[start:end], start=start, end=end, line=line, column=column,
        end_line=end_line, node=None, error=str(exc.args[0]) if exc.args else str(exc),
        error_line=error_line, error_column=error_column, preceding=source.text[previous_end:start],
    )


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink a span to the statement itself: no surrounding blanks, leading comments or ';'."""
    while start < end:
        if text[start].isspace():
            start += 1
        elif text.startswith("--", start):
            newline = text.find("\n", start, end)
            start = end if newline == -1 else newline + 1
        elif text.startswith("/*", start):
            close = text.find("*/", start + 2, end)
            start = end if close == -1 else close + 2
        else:
            break
    while end > start and (text[end - 1].isspace() or text[end - 1] == ";"):
        end -= 1
    return start, end


def can_run_in_transaction(node: Any) -> bool:
    """False for the statements PostgreSQL (15) rejects inside a transaction block."""
    if isinstance(node, ast.IndexStmt):
        return not node.concurrent
    if isinstance(node, ast.DropStmt):
        return not node.concurrent
    if isinstance(node, ast.ReindexStmt):
        if _has_option(node.params, "concurrently"):
            return False
        return node.kind not in {_reindex_kind("REINDEX_OBJECT_SYSTEM"), _reindex_kind("REINDEX_OBJECT_DATABASE")}
    if isinstance(node, ast.VacuumStmt):
        return not node.is_vacuumcmd
    if isinstance(node, ast.ClusterStmt):
        return node.relation is not None
    if isinstance(node, ast.AlterTableStmt):
        return not any(
            isinstance(cmd.def_, ast.PartitionCmd) and cmd.def_.concurrent for cmd in node.cmds or () if cmd.def_
        )
    return not isinstance(node, _NEVER_IN_TRANSACTION)


_NEVER_IN_TRANSACTION = (
    ast.CreatedbStmt,
    ast.DropdbStmt,
    ast.AlterSystemStmt,
    ast.CreateTableSpaceStmt,
    ast.DropTableSpaceStmt,
    ast.CreateSubscriptionStmt,
    ast.DropSubscriptionStmt,
)


def _has_option(params: Any, name: str) -> bool:
    """The option is given and not switched off (``(CONCURRENTLY false)`` is off)."""
    for p in params or ():
        if isinstance(p, ast.DefElem) and p.defname == name:
            arg = p.arg
            if isinstance(arg, ast.String):
                return arg.sval.lower() not in ("false", "off", "0", "no")
            if isinstance(arg, ast.Integer):
                return arg.ival != 0
            return not (isinstance(arg, ast.Boolean) and not arg.boolval)
    return False


def _reindex_kind(name: str) -> Any:
    from pglast import enums

    return getattr(enums.ReindexObjectType, name)

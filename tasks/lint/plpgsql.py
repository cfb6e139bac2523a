"""SQL embedded in DO blocks and function bodies, found with PL/pgSQL's own parser (pglast).

PL/pgSQL statements that are SQL (``CREATE INDEX ...;`` in a DO block) and ``EXECUTE 'literal'``
strings are returned so the linter can run every rule on them, which squawk does not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pglast
from pglast import ast
from pglast.parser import ParseError, parse_plpgsql_json


@dataclass(frozen=True)
class EmbeddedSQL:
    """One piece of SQL found inside a DO block or a function.

    Attributes:
        sql: the SQL text.
        executed: True when it runs during the migration (DO block), False for function bodies
            (they run later, when called).
        origin: ``DO block`` or ``function name``.
        dynamic: it came from ``EXECUTE 'literal'``.
    """

    sql: str
    executed: bool
    origin: str
    dynamic: bool = False


class EmbeddedParseError(Exception):
    """The PL/pgSQL body does not parse; ``args[0]`` is PostgreSQL's message."""


def embedded_sql(node: Any) -> list[EmbeddedSQL]:
    """SQL inside a ``DoStmt`` or ``CreateFunctionStmt`` (languages plpgsql and sql); [] otherwise.

    Raises:
        EmbeddedParseError: the PL/pgSQL body has a syntax error.
    """
    if isinstance(node, ast.DoStmt):
        language, body = _option(node.args, "language") or "plpgsql", _body(node.args)
        if body is None or language.lower() != "plpgsql":
            return []
        return _plpgsql_sql(body, "DO block", executed=True)
    if isinstance(node, ast.CreateFunctionStmt):
        language = (_option(node.options, "language") or "").lower()
        body = _body(node.options)
        name = ".".join(n.sval for n in node.funcname or () if isinstance(n, ast.String)) or "function"
        origin = f"{'procedure' if node.is_procedure else 'function'} {name}"
        if body is None:
            return []
        if language == "sql":
            return [EmbeddedSQL(body, executed=False, origin=origin)]
        if language == "plpgsql":
            return _plpgsql_sql(body, origin, executed=False, source=_function_source(node))
    return []


def _option(options: Any, name: str) -> str | None:
    for option in options or ():
        if isinstance(option, ast.DefElem) and option.defname == name and isinstance(option.arg, ast.String):
            return option.arg.sval
    return None


def _body(options: Any) -> str | None:
    for option in options or ():
        if isinstance(option, ast.DefElem) and option.defname == "as":
            arg = option.arg
            if isinstance(arg, ast.String):
                return arg.sval
            if isinstance(arg, (list, tuple)) and len(arg) == 1 and isinstance(arg[0], ast.String):
                return arg[0].sval
    return None


def _function_source(node: Any) -> str | None:
    """The CREATE FUNCTION statement itself (deparsed), so PL/pgSQL sees the real return type and
    parameters: ``RETURN i`` is valid in a function returning int, not in a void wrapper."""
    from pglast.stream import RawStream

    try:
        return RawStream()(node)
    except Exception:  # noqa: BLE001 - a node pglast cannot print falls back to the void wrapper
        return None


def _plpgsql_sql(body: str, origin: str, *, executed: bool, source: str | None = None) -> list[EmbeddedSQL]:
    tag = "mg_body"
    while f"${tag}$" in body:
        tag += "_"
    source = source or f"CREATE FUNCTION mg_lint() RETURNS void LANGUAGE plpgsql AS ${tag}${body}${tag}$"
    try:
        tree = json.loads(parse_plpgsql_json(source))
    except ParseError as exc:
        raise EmbeddedParseError(str(exc.args[0]) if exc.args else str(exc)) from None
    found: list[EmbeddedSQL] = []
    ordered: list[tuple[str, Any]] = []
    _collect(tree, ordered)
    for key, value in ordered:
        if key == "PLpgSQL_stmt_execsql":
            query = value.get("sqlstmt", {}).get("PLpgSQL_expr", {}).get("query")
            if query:
                found.append(EmbeddedSQL(query, executed, origin))
        else:
            literal = string_literal(value.get("query", {}).get("PLpgSQL_expr", {}).get("query", ""))
            if literal is not None:
                found.append(EmbeddedSQL(literal, executed, origin, dynamic=True))
    return found


def _collect(item: Any, ordered: list[tuple[str, Any]]) -> None:
    """SQL-bearing PL/pgSQL statements in source order."""
    if isinstance(item, list):
        for element in item:
            _collect(element, ordered)
    elif isinstance(item, dict):
        for key, value in item.items():
            if key in ("PLpgSQL_stmt_execsql", "PLpgSQL_stmt_dynexecute"):
                ordered.append((key, value))
            if isinstance(value, (dict, list)):
                _collect(value, ordered)


def string_literal(expression: str) -> str | None:
    """The value of ``expression`` when it is one SQL string constant ('...', E'...', $q$...$q$)."""
    if not expression or expression.lstrip()[:1] not in ("'", "E", "e", "$"):
        return None
    try:
        parsed = pglast.parse_sql(f"SELECT {expression}")
    except ParseError:
        return None
    target = parsed[0].stmt.targetList[0].val if parsed and isinstance(parsed[0].stmt, ast.SelectStmt) else None
    if isinstance(target, ast.A_Const) and isinstance(target.val, ast.String):
        return target.val.sval
    return None

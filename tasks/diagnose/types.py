"""Spell a pglast TypeName the way PostgreSQL's ``format_type`` prints it, so a statement's type
can be compared with the catalog's (``timestamp(3)`` -> ``timestamp(3) without time zone``)."""

from __future__ import annotations

from typing import Any

from pglast import ast

from migration_guard.tasks.sql.identifiers import qualified_if_needed, quoted_if_needed

_BUILTIN = {
    "int2": "smallint", "int4": "integer", "int8": "bigint", "float4": "real", "float8": "double precision",
    "bool": "boolean", "varchar": "character varying", "bpchar": "character", "numeric": "numeric",
    "timestamp": "timestamp without time zone", "timestamptz": "timestamp with time zone",
    "time": "time without time zone", "timetz": "time with time zone", "interval": "interval",
    "text": "text", "uuid": "uuid", "json": "json", "jsonb": "jsonb", "bytea": "bytea", "date": "date",
    "inet": "inet", "cidr": "cidr", "money": "money", "xml": "xml", "bit": "bit", "varbit": "bit varying",
    "tsvector": "tsvector", "oid": "oid", "citext": "citext",
    "serial": "integer", "serial4": "integer", "bigserial": "bigint", "serial8": "bigint",
    "smallserial": "smallint", "serial2": "smallint", "int": "integer", "integer": "integer",
    "smallint": "smallint", "bigint": "bigint", "real": "real", "decimal": "numeric", "boolean": "boolean",
}


def format_type_name(type_name: Any, default_schema: str = "public") -> str | None:
    """The ``format_type`` spelling of a TypeName, or None when it cannot be known offline
    (``%TYPE`` references, unusual modifiers)."""
    if not isinstance(type_name, ast.TypeName) or type_name.pct_type:
        return None
    names = [n.sval for n in type_name.names or () if isinstance(n, ast.String)]
    if not names:
        return None
    schema, base = (names[-2], names[-1]) if len(names) > 1 else (None, names[-1])
    modifiers = _typmods(type_name.typmods)
    if modifiers is None:
        return None
    if schema in (None, "pg_catalog") and base in _BUILTIN:
        text = _builtin_with_modifiers(base, modifiers)
    else:
        text = quoted_if_needed(base) if schema in (None, default_schema) else qualified_if_needed(schema, base)
        if modifiers:
            text += f"({','.join(modifiers)})"
    if type_name.arrayBounds:
        text += "[]"
    return text


def _builtin_with_modifiers(base: str, modifiers: list[str]) -> str:
    spelled = _BUILTIN[base]
    if not modifiers:
        return "character(1)" if base == "bpchar" else spelled
    mods = f"({','.join(modifiers)})"
    if spelled.endswith(" time zone"):
        head, _, tail = spelled.partition(" ")
        return f"{head}{mods} {tail}"
    if base == "interval":
        return spelled
    return spelled + mods


def _typmods(typmods: Any) -> list[str] | None:
    values = []
    for item in typmods or ():
        value = getattr(item, "val", None)
        if isinstance(value, ast.Integer):
            values.append(str(value.ival))
        else:
            return None
    return values


def same_type(expected: str | None, actual: str) -> bool | None:
    """True / False when the types can be compared, None when ``expected`` is unknown."""
    if expected is None:
        return None
    return expected.replace('"', "") == actual.replace('"', "")

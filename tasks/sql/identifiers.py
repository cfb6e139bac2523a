"""SQL identifiers as text: the one place that quotes a name for a suggestion, a report or a query.

Statements we execute are composed with ``psycopg.sql.Identifier`` at the call site; these
functions give the same spelling as text, for SQL that people read and paste:

- ``quoted``: always quoted, embedded quotes doubled — what ``sql.Identifier`` renders. A pasted
  statement then runs on exactly that object, whatever its name.
- ``quoted_if_needed``: quoted only when PostgreSQL needs it (upper case, non-ASCII, special
  characters, keywords), as PostgreSQL's own ``quote_ident()`` and ``format_type()`` print names.
"""

from __future__ import annotations

import functools
import re

from psycopg import sql


def quoted(name: str) -> str:
    """``name`` always double-quoted, embedded quotes doubled (``sql.Identifier(name)`` as text)."""
    return sql.Identifier(name).as_string()


def qualified(schema: str, name: str) -> str:
    """``"schema"."name"``, both parts always quoted."""
    return f"{quoted(schema)}.{quoted(name)}"


def quoted_if_needed(name: str) -> str:
    """``name`` as PostgreSQL prints it: bare when it is plain lower-case ASCII and not a keyword that
    would need quoting, else double-quoted with embedded quotes doubled."""
    plain = name.isascii() and name.isidentifier() and name == name.lower()
    if plain and not _needs_quoting_as_keyword(name):
        return name
    return quoted(name)


def qualified_if_needed(schema: str, name: str) -> str:
    """``schema.name`` with each part quoted only when PostgreSQL needs it."""
    return f"{quoted_if_needed(schema)}.{quoted_if_needed(name)}"


_PART = re.compile(r'"((?:[^"]|"")*)"|([^."]+)')


def split_qualified(name: str) -> list[str]:
    """The parts of a dotted name as :func:`quoted_if_needed` spells them, unquoted:
    ``public."Order".id`` -> ``['public', 'Order', 'id']``."""
    return [quoted.replace('""', '"') if quoted or plain is None else plain
            for quoted, plain in _PART.findall(name)]


@functools.cache
def _needs_quoting_as_keyword(word: str) -> bool:
    from pglast.keywords import COL_NAME_KEYWORDS, RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS, UNRESERVED_KEYWORDS

    if word in UNRESERVED_KEYWORDS:
        return False
    return word in RESERVED_KEYWORDS or word in TYPE_FUNC_NAME_KEYWORDS or word in COL_NAME_KEYWORDS

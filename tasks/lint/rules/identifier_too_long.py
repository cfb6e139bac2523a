"""Identifiers longer than 63 bytes (PostgreSQL silently truncates them).

The parser already truncates names in the AST, so this rule reads the scanner's tokens.
"""

import re

from pglast import ast
from pglast.parser import ParseError, scan

from migration_guard.tasks.lint.registry import Rule, Violation

MAX_IDENTIFIER_BYTES = 63
_LONG_WORD = re.compile(r"[^\s(),;.']{16,}")


def check(statement, state):
    text = statement.text
    if not any(len(m.group().encode("utf-8")) > MAX_IDENTIFIER_BYTES for m in _LONG_WORD.finditer(text)):
        return
    try:
        tokens = scan(text)
    except ParseError:
        return
    seen = set()
    for token in tokens:
        if token.name != "IDENT":
            continue
        name = text[token.start:token.end + 1]
        if name.startswith('"'):
            name = name[1:-1].replace('""', '"')
        size = len(name.encode("utf-8"))
        if size > MAX_IDENTIFIER_BYTES and name not in seen:
            seen.add(name)
            yield Violation(f"identifier {name[:40]}... is {size} bytes; PostgreSQL truncates it to 63")


RULE = Rule(
    code="identifier-too-long",
    severity="warning",
    category="types",
    summary="An identifier longer than 63 bytes.",
    problem=(
        "PostgreSQL truncates identifiers to 63 bytes with only a NOTICE: two long names that share "
        "their first 63 bytes collide (relation already exists), and tools that compare the full name "
        "(ORMs, drift checks) see a missing object."
    ),
    fix="Choose a shorter name (Prisma: map: \"...\" on the field or @@index):\n  CREATE INDEX \"Order_customer_created_idx\" ON \"Order\" (\"customerId\", \"createdAt\");",
    nodes=(ast.Node,),
    check=check,
)

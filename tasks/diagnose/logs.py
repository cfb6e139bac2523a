"""Find the failing statement the ledger's logs name (plain logic).

Logs come from Prisma (native: P3018 with the SQLSTATE and the statement; the harness: the
constraint or index name) or from migration-guard's executor (``statement N (line L)``).
"""

from __future__ import annotations

import re

from pglast import ast

from migration_guard.tasks.sql.statements import Statement

_STEP_LABEL = re.compile(r"statement (\d+) \(line (\d+)\)")
_WORDS = re.compile(r"\s+")


def failing_statement_from_logs(statements: list[Statement], logs: str | None) -> int | None:
    """Index of the statement the logs name, or None when they name none unambiguously."""
    if not logs or not statements:
        return None
    label = _STEP_LABEL.search(logs)
    if label:
        index = int(label.group(1)) - 1
        if 0 <= index < len(statements) and statements[index].line == int(label.group(2)):
            return index
    flat = _WORDS.sub(" ", logs)
    by_text = [s.index for s in statements if len(s.text) >= 12 and _WORDS.sub(" ", s.text)[:80] in flat]
    if len(by_text) == 1:
        return by_text[0]
    by_name = [s.index for s in statements if any(_mentioned(name, logs) for name in _created_names(s.node))]
    return by_name[0] if len(by_name) == 1 else None


def _mentioned(name: str, logs: str) -> bool:
    return len(name) >= 4 and re.search(rf'(?<![\w$]){re.escape(name)}(?![\w$])', logs) is not None


def _created_names(node: object) -> list[str]:
    """Names distinctive enough to identify a statement in an error message."""
    names: list[str] = []
    if isinstance(node, ast.IndexStmt) and node.idxname:
        names.append(node.idxname)
    elif isinstance(node, ast.AlterTableStmt):
        for cmd in node.cmds or ():
            definition = cmd.def_
            if isinstance(definition, ast.Constraint) and definition.conname:
                names.append(definition.conname)
    elif isinstance(node, ast.CreateEnumStmt | ast.AlterEnumStmt):
        value = getattr(node, "newVal", None)
        if value:
            names.append(value)
    return names

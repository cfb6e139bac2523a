"""The likely cause of a query that got slower after a migration, read from the migrations' SQL:
an index the migration dropped (with the statement that re-creates it, from the migration that
created it), an index left INVALID, or a column whose type it changed, on a table the query
reads. Plain data."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pglast import ast, enums, parse_sql
from pglast.parser import ParseError
from pglast.stream import RawStream

from migration_guard.tasks.catalog import IndexInfo
from migration_guard.tasks.models import Migration
from migration_guard.tasks.sql.identifiers import qualified_if_needed


@dataclass(frozen=True)
class Cause:
    """What the migration did that can slow the query, and the exact statement that undoes it."""

    migration: str
    text: str
    fix: str = ""


def _statements(migration: Migration) -> list:
    try:
        return [s.stmt for s in parse_sql(migration.sql)]
    except ParseError:
        return []


def _reads(query: str, table: str) -> bool:
    """Whether the normalised query names ``table`` (as a word, quoted or not)."""
    return re.search(rf'(?<![\w"])"?{re.escape(table)}"?(?![\w"])', query) is not None


def likely_causes(applied: Sequence[Migration], earlier: Sequence[Migration], query: str,
                  invalid: Sequence[IndexInfo] = ()) -> list[Cause]:
    """Causes found in ``applied`` (the migrations run between the snapshots) for ``query``;
    ``earlier`` (every migration before them) is searched for the dropped indexes' definitions;
    ``invalid`` (the database's INVALID indexes now) on a table the query reads are causes too."""
    created: dict[str, ast.IndexStmt] = {}
    for migration in earlier:
        for node in _statements(migration):
            if isinstance(node, ast.IndexStmt) and node.idxname:
                created[node.idxname] = node
    found = []
    for migration in applied:
        for node in _statements(migration):
            if isinstance(node, ast.DropStmt) and node.removeType == enums.ObjectType.OBJECT_INDEX:
                for names in node.objects:
                    name = names[-1].sval
                    definition = created.get(name)
                    if definition is None:
                        found.append(Cause(migration.name, f"it dropped index {name}"))
                    elif _reads(query, definition.relation.relname):
                        definition.concurrent, definition.if_not_exists = True, True
                        found.append(Cause(migration.name, f"it dropped index {name} on {definition.relation.relname}",
                                           RawStream()(definition) + ";"))
            elif isinstance(node, ast.AlterTableStmt):
                table = node.relation.relname
                for cmd in node.cmds or ():
                    if cmd.subtype == enums.AlterTableType.AT_AlterColumnType and _reads(query, table):
                        found.append(Cause(migration.name, f"it changed the type of {table}.{cmd.name} (indexes on "
                                           "it were rebuilt, and a comparison with the old type may no longer use them)"))
    for index in invalid:
        if _reads(query, index.table):
            found.append(Cause(applied[-1].name if applied else "", f"index {index.name} on {index.table} is INVALID "
                               "(a failed CREATE INDEX CONCURRENTLY): queries cannot use it",
                               f"REINDEX INDEX CONCURRENTLY {qualified_if_needed(index.schema, index.name)};"))
    return found

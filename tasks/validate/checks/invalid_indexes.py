"""INVALID indexes, typically left behind by a failed CREATE INDEX CONCURRENTLY."""

from __future__ import annotations

from psycopg import sql

from migration_guard.tasks.catalog import invalid_indexes
from migration_guard.tasks.validate.base import Check, check_connection
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult, CheckStatus


def run(ctx: ValidationContext) -> CheckResult:
    with check_connection(ctx) as conn:
        indexes = invalid_indexes(conn)
        if indexes:
            fixes = [sql.SQL("DROP INDEX CONCURRENTLY {}.{};").format(sql.Identifier(i.schema), sql.Identifier(i.name)).as_string(conn)
                     for i in indexes]
    if not indexes:
        return CHECK.result(CheckStatus.PASS, "no INVALID indexes")
    return CHECK.result(
        CheckStatus.FAIL, f"{len(indexes)} INVALID index(es) (a failed or running CREATE INDEX CONCURRENTLY)",
        [f"{i.schema}.{i.name} on {i.table}: {i.definition}" for i in indexes],
        fix=" ".join(fixes) + "  then re-create them (or REINDEX INDEX CONCURRENTLY)",
        indexes=[{"schema": i.schema, "table": i.table, "name": i.name, "definition": i.definition} for i in indexes])


CHECK = Check("invalid-indexes", "No INVALID indexes", run,
              why="an INVALID index slows every write, enforces nothing, and makes the re-run of its migration fail")

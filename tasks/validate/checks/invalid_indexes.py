"""INVALID indexes, typically left behind by a failed CREATE INDEX CONCURRENTLY, or being built now.

Judgement (the healthcheck's ``invalid_indexes`` reads the same probe and judges differently, see
``tasks/checks``): every INVALID index FAILs — debris makes the re-run of its migration fail and
slows every write, and a build in progress holds a SHARE UPDATE EXCLUSIVE lock the migration's DDL
would queue behind. The fixes differ: debris is dropped (DROP INDEX CONCURRENTLY, then re-created);
an index a live session is building is never dropped (that would fail its migration): wait for it.
"""

from __future__ import annotations

from migration_guard.tasks.checks.fixes import drop_index_concurrently, wait_for_index_build
from migration_guard.tasks.catalog import invalid_indexes
from migration_guard.tasks.sql.identifiers import qualified
from migration_guard.tasks.validate.base import Check, check_connection
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult, CheckStatus


def run(ctx: ValidationContext) -> CheckResult:
    with check_connection(ctx) as conn:
        indexes = invalid_indexes(conn)
    if not indexes:
        return CHECK.result(CheckStatus.PASS, "no INVALID indexes")
    debris = [i for i in indexes if not i.being_built]
    building = [i for i in indexes if i.being_built]
    fixes = [drop_index_concurrently(qualified(i.schema, i.name)) for i in debris]
    fix = " ".join(fixes) + "  then re-create them (or REINDEX INDEX CONCURRENTLY)" if debris else ""
    if building:
        waits = "; ".join(wait_for_index_build(qualified(i.schema, i.name), i.builder_pid) for i in building)
        fix = f"{fix};  {waits}" if fix else waits
    reason = f"{len(indexes)} INVALID index(es) (a failed or running CREATE INDEX CONCURRENTLY)"
    if building:
        reason += f"; {len(building)} being built right now"
    return CHECK.result(
        CheckStatus.FAIL, reason,
        [f"{i.schema}.{i.name} on {i.table}: "
         + (f"being built by pid {i.builder_pid}: " if i.being_built else "") + i.definition for i in indexes],
        fix=fix,
        indexes=[{"schema": i.schema, "table": i.table, "name": i.name, "definition": i.definition} for i in indexes])


CHECK = Check("invalid-indexes", "No INVALID indexes", run,
              why="an INVALID index slows every write, enforces nothing, and makes the re-run of its migration fail")

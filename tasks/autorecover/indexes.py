"""Class 2: an INVALID index a failed ``CREATE INDEX CONCURRENTLY`` left (never one a live session
is building) → drop it concurrently and build it again concurrently from the statement of the
migration that creates it; only drop it when that migration is not applied.

The index's origin is the last migration on disk whose statements create an index of that name.
An index of the failed migration is left to the failed-migration class (recover's own plan drops
or rebuilds it); an index no migration creates is left alone: nobody said it should exist.
Both steps run through recover's executor (migration lock, lock and statement timeouts, retries).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pglast import ast
from pglast.stream import RawStream

from migration_guard.tasks.autorecover.model import DONE, DROP_INDEX, FAILED, REBUILD_INDEX, SKIPPED, Action
from migration_guard.tasks.catalog import IndexInfo
from migration_guard.tasks.checks.fixes import drop_index_concurrently
from migration_guard.tasks.db import connection
from migration_guard.tasks.models import MigrationStatus, State
from migration_guard.tasks.project import Project
from migration_guard.tasks.sql.identifiers import qualified, qualified_if_needed
from migration_guard.tasks.sql.statements import split_statements


@dataclass(frozen=True)
class IndexOrigin:
    """The migration whose statement creates an index, and that statement made non-blocking and
    re-runnable (``CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS …``)."""

    migration: str
    state: State
    statement: int
    create_sql: str


def origin_of(index: IndexInfo, statuses: Sequence[MigrationStatus], schema: str) -> IndexOrigin | None:
    """The last migration on disk (in apply order) creating an index named ``index.name`` in
    ``schema`` (unqualified names live in the project's schema); None when none does."""
    found = None
    for status in statuses:
        migration = status.migration
        if migration is None or index.name not in migration.sql:
            continue
        for statement in split_statements(migration.sql, migration.name):
            node = statement.node
            if not isinstance(node, ast.IndexStmt) or node.idxname != index.name:
                continue
            if (node.relation.schemaname or schema) != index.schema:
                continue
            rebuilt = copy.deepcopy(node)
            rebuilt.concurrent, rebuilt.if_not_exists = True, True
            found = IndexOrigin(status.name, status.state, statement.index + 1, RawStream()(rebuilt))
    return found


def action_for(database: str, index: IndexInfo, origin: IndexOrigin | None, *, migrations_known: bool = True) -> Action:
    """The action for an INVALID index: rebuild (its migration is applied), drop (it is not), or
    skipped (no migration creates it)."""
    name = qualified_if_needed(index.schema, index.name)
    drop = drop_index_concurrently(name)
    if origin is None:
        return Action(database, REBUILD_INDEX, f"index {name}",
                      f"rebuild the INVALID index {name} on {index.table}",
                      (f"REINDEX INDEX CONCURRENTLY {name};", drop), SKIPPED,
                      "no migration on disk creates it, so what it should be is not known: rebuild or drop it by hand"
                      if migrations_known else "no migrations folder is configured for this database, so which "
                      "migration left it cannot be told: rebuild or drop it by hand")
    if origin.state is State.APPLIED:
        return Action(database, REBUILD_INDEX, f"index {name}",
                      f"drop the INVALID index {name} on {index.table} concurrently and build it again from "
                      f"statement {origin.statement} of the applied migration {origin.migration}",
                      (drop, origin.create_sql + ";"))
    return Action(database, DROP_INDEX, f"index {name}",
                  f"drop the INVALID index {name} on {index.table} concurrently (migration {origin.migration}, "
                  f"which creates it, is {origin.state.value.replace('_', ' ')})", (drop,))


def repair(project: Project, index: IndexInfo, origin: IndexOrigin | None, action: Action) -> None:
    """Drop (and, for a rebuild, create) the index with recover's executor; sets the action's state
    and detail. A rebuild that fails leaves the INVALID index its build left (as before the action:
    the invalid_indexes alert stands) and says what to fix before running the CREATE again."""
    from migration_guard.tasks.recover.execute import execute_plan
    from migration_guard.tasks.recover.model import PlanStep, RepairPlan

    started = time.perf_counter()
    before = _state(project, index)
    if before != "invalid":
        action.state, action.detail = SKIPPED, f"not done: the index is {before} now"
        return
    drop = PlanStep(f"DROP INDEX CONCURRENTLY IF EXISTS {qualified(index.schema, index.name)}",
                    f"drop the INVALID index {index.name}", False)
    steps = [drop]
    if action.kind == REBUILD_INDEX and origin is not None:
        steps.append(PlanStep(origin.create_sql, f"build {index.name} again (migration {origin.migration}, "
                                                 f"statement {origin.statement})", False))
    outcome = execute_plan(project, RepairPlan("cleanup", steps=steps), None)
    after = _state(project, index)
    wanted = "valid" if len(steps) == 2 else "absent"
    if outcome.ok and after == wanted:
        action.state = DONE
        action.detail = "dropped and built again; the index is valid" if len(steps) == 2 else "dropped"
    else:
        action.state = FAILED
        action.detail = outcome.error or f"the index is {after} afterwards"
        if after == "invalid":  # left as it was found: the invalid_indexes alert keeps saying so
            action.detail += "; the failed build left it INVALID again"
        if len(steps) == 2:
            action.detail += f"; fix the cause, then run: {origin.create_sql};"
    action.seconds = time.perf_counter() - started


def _state(project: Project, index: IndexInfo) -> str:
    """valid | invalid | being built | absent: the index ``index`` names, as it is now."""
    with connection(project.dsn, connect_timeout=project.settings.connect_timeout) as conn:
        row = conn.execute(
            "SELECT i.indisvalid, EXISTS (SELECT 1 FROM pg_stat_progress_create_index p "
            "WHERE p.index_relid = i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
            (index.schema, index.name)).fetchone()
    if row is None:
        return "absent"
    return "valid" if row[0] else "being built" if row[1] else "invalid"

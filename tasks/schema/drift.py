"""Drift: the live schema vs the schema the applied migrations produce (built in a shadow database)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from migration_guard.tasks.db import connect
from migration_guard.tasks.errors import Category, MigrationGuardError
from migration_guard.tasks.models import Migration
from migration_guard.tasks.project import Project, read_ledger
from migration_guard.tasks.schema.compare import compare_snapshots
from migration_guard.tasks.schema.model import DriftReport
from migration_guard.tasks.schema.shadow import expected_snapshot, ledger_tables
from migration_guard.tasks.schema.snapshot import snapshot_schema


def check_drift(project: Project, *, migrations: Sequence[Migration] | None = None) -> DriftReport:
    """Compare the live schema with a shadow database built from the applied migrations.

    Args:
        project: a :class:`~migration_guard.tasks.project.Project`.
        migrations: the migrations that should be in effect, in order (default: those the
            ledger records as applied and that exist on disk).

    Returns:
        A :class:`DriftReport`; ``checked`` is False (with ``reason``) when the shadow database
        could not be built, e.g. without CREATEDB and no SHADOW_DATABASE_URL.

    Raises:
        DatabaseError: the connection was lost during the check (a restart): it did not finish.
    """
    started = time.perf_counter()
    if migrations is None:
        migrations, missing = applied_migrations(project)
        if missing:
            return DriftReport(
                checked=False, reason=f"applied migrations missing locally: {', '.join(missing)}; "
                "restore them to check drift", seconds=time.perf_counter() - started,
            )
    names = [m.name for m in migrations]
    excluded = ledger_tables(project)
    try:
        expected, label = expected_snapshot(project, migrations)
        with connect(project.dsn, connect_timeout=project.settings.connect_timeout) as live:
            actual = snapshot_schema(live, [project.schema], exclude_tables=excluded)
    except MigrationGuardError as exc:
        if exc.category is Category.DATABASE_CONNECTION:  # lost mid-check: not "unchecked", unfinished
            raise
        reason = f"{exc.message} ({exc.suggestion})" if exc.suggestion else exc.message
        return DriftReport(checked=False, applied_migrations=names, reason=reason,
                           seconds=time.perf_counter() - started)
    differences = compare_snapshots(expected, actual)
    return DriftReport(checked=True, differences=differences, applied_migrations=names, shadow=label,
                       seconds=time.perf_counter() - started)


def applied_migrations(project: Project) -> tuple[list[Migration], list[str]]:
    """(applied migrations found on disk in apply order, names applied but missing locally)."""
    _, entries = read_ledger(project)
    applied = {e.migration_name for e in entries if e.is_applied}
    local = project.ledger.read_migrations()
    local_names = {m.name for m in local}
    return [m for m in local if m.name in applied], sorted(applied - local_names)

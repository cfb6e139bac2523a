"""The status workflow: disk and ledger joined into a :class:`StatusReport` (written once, for the
CLI, the status flow and every workflow that needs the migrations' state)."""

from __future__ import annotations

from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.models import StatusReport
from migration_guard.tasks.project import Project
from migration_guard.tasks.status.compute import build_report
from migration_guard.tasks.status.steps import PLAIN_STEPS, StatusSteps


def read_status(project: Project, steps: StatusSteps = PLAIN_STEPS) -> StatusReport:
    """Disk + ledger joined into a :class:`StatusReport`; when a ledger row is unfinished, the live
    sessions tell a migration running now (``running``) from a failed one.

    Raises:
        MigrationFileError: a migration on disk is unreadable.
        DatabaseError: the database cannot be reached or read (classified).
    """
    migrations = steps.read_migrations(project)
    exists, entries = steps.read_ledger(project)
    sessions = []
    if any(e.is_failed for e in entries):
        # sessions first, then the ledger again: a migration that finished in between reads as
        # applied, not as an unfinished row with nobody holding the lock (a false "failed")
        sessions = steps.read_sessions(project)
        exists, entries = steps.read_ledger(project)
    return build_report(
        migrations,
        entries,
        tool=project.ledger.tool,
        migrations_dir=str(project.migrations_dir),
        database=project.target,
        ledger_table=project.ledger.display_table,
        ledger_exists=exists,
        sessions=sessions,
    )


def last_applied_migration(project: Project) -> str | None:
    """The last applied migration's name (recorded in backup metadata); None when there is none or
    the migrations or the ledger cannot be read."""
    try:
        return read_status(project).last_applied
    except MigrationGuardError:
        return None

"""The status workflow's steps port: the two reads a status is made of, as plain functions.

``PLAIN_STEPS`` serves the CLI and every workflow that reads a status; the status flow runs the same
functions as Prefect tasks (``tasks/status/tasks.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from migration_guard.tasks.catalog import migration_sessions
from migration_guard.tasks.db import connection
from migration_guard.tasks.models import LedgerEntry, LiveSession, Migration
from migration_guard.tasks.project import Project, read_ledger, read_migrations


def read_sessions(project: Project) -> list[LiveSession]:
    """The live sessions that may be applying a migration (holders of the project's migration lock,
    migration-guard's migrate sessions, sessions running a statement)."""
    with connection(project.dsn, connect_timeout=project.settings.connect_timeout) as conn:
        return migration_sessions(conn, project.ledger.lock_key)


@dataclass(frozen=True)
class StatusSteps:
    """Read the migrations on disk; read the ledger (table exists, rows); read the live sessions
    (only when a row is unfinished: running or failed?)."""

    read_migrations: Callable[[Project], list[Migration]]
    read_ledger: Callable[[Project], tuple[bool, list[LedgerEntry]]]
    read_sessions: Callable[[Project], list[LiveSession]] = read_sessions


PLAIN_STEPS = StatusSteps(read_migrations, read_ledger, read_sessions)

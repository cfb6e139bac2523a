"""Prefect tasks behind the status flow: read disk, read the ledger (retried on connection errors)."""

from __future__ import annotations

from prefect import task

from migration_guard.tasks.models import LedgerEntry, Migration
from migration_guard.tasks.project import Project, read_ledger, read_migrations
from migration_guard.tasks.retry import DB_TASK_OPTIONS


@task(name="read-migrations")
def read_migrations_task(project: Project) -> list[Migration]:
    """The project's migrations on disk."""
    return read_migrations(project)


@task(name="read-ledger", **DB_TASK_OPTIONS)
def read_ledger_task(project: Project) -> tuple[bool, list[LedgerEntry]]:
    """(ledger table exists, rows), retried when the database is briefly unreachable."""
    return read_ledger(project)

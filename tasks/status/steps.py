"""The status workflow's steps port: the two reads a status is made of, as plain functions.

``PLAIN_STEPS`` serves the CLI and every workflow that reads a status; the status flow runs the same
functions as Prefect tasks (``tasks/status/tasks.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from migration_guard.tasks.models import LedgerEntry, Migration
from migration_guard.tasks.project import Project, read_ledger, read_migrations


@dataclass(frozen=True)
class StatusSteps:
    """Read the migrations on disk; read the ledger (table exists, rows)."""

    read_migrations: Callable[[Project], list[Migration]]
    read_ledger: Callable[[Project], tuple[bool, list[LedgerEntry]]]


PLAIN_STEPS = StatusSteps(read_migrations, read_ledger)

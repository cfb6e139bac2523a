"""Detect what needs recovering: failed ledger rows, and the debris failures leave behind —
INVALID indexes, NOT VALID constraints a migration meant to validate, the migration advisory
lock held by an idle session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast import ast, enums

from migration_guard.tasks.catalog import (
    ConstraintInfo,
    IndexInfo,
    SessionInfo,
    advisory_lock_holders,
    invalid_indexes,
    not_valid_constraints,
)
from migration_guard.tasks.db import connection
from migration_guard.tasks.models import Migration, MigrationStatus, State, StatusReport
from migration_guard.tasks.project import Project
from migration_guard.tasks.status.pipeline import read_status
from migration_guard.tasks.sql.statements import split_statements

AT = enums.AlterTableType


@dataclass
class Detection:
    """What is wrong right now.

    Attributes:
        failed: failed migrations, oldest first (recovery handles the first one per run).
        invalid_indexes: INVALID indexes in the project's schema.
        unvalidated: NOT VALID constraints some migration meant to validate.
        stale_lock_holders: idle sessions holding the migration advisory lock.
        busy_lock_holders: sessions holding it while running something (a migration in progress).
    """

    report: StatusReport
    failed: list[MigrationStatus] = field(default_factory=list)
    invalid_indexes: list[IndexInfo] = field(default_factory=list)
    unvalidated: list[ConstraintInfo] = field(default_factory=list)
    stale_lock_holders: list[SessionInfo] = field(default_factory=list)
    busy_lock_holders: list[SessionInfo] = field(default_factory=list)

    @property
    def target(self) -> MigrationStatus | None:
        """The failed migration this run recovers (the oldest), if any."""
        return self.failed[0] if self.failed else None

    @property
    def nothing_to_do(self) -> bool:
        """True when nothing failed and no debris or lock holder is left."""
        return not (self.failed or self.invalid_indexes or self.unvalidated or self.stale_lock_holders
                    or self.busy_lock_holders)

    def lines(self) -> list[str]:
        """What was found, one line each."""
        out = [f"failed migration {s.name}: {s.detail}" for s in self.failed]
        out += [f"INVALID index {i.schema}.{i.name} on {i.table}" for i in self.invalid_indexes]
        out += [f"NOT VALID constraint {c.name} on {c.schema}.{c.table} (a migration meant to validate it)"
                for c in self.unvalidated]
        out += [f"stale migration lock held by idle {s.describe()}" for s in self.stale_lock_holders]
        out += [f"migration lock held by a running session: {s.describe()}" for s in self.busy_lock_holders]
        return out

    def to_dict(self) -> dict[str, Any]:
        """The detection as JSON-ready data."""
        return {"failed": [s.name for s in self.failed], "findings": self.lines(),
                "status_summary": self.report.summary}


def detect(project: Project, *, stale_lock_seconds: float = 60.0) -> Detection:
    """Read the status and the catalog; nothing is changed.

    Args:
        project: the Project.
        stale_lock_seconds: an idle holder of the migration lock counts as stale after this long.
    """
    report = read_status(project)
    detection = Detection(report=report, failed=report.by_state(State.FAILED))
    with connection(project.dsn, connect_timeout=project.settings.connect_timeout) as conn:
        # an index a live session is building is not debris: dropping it would kill that build
        detection.invalid_indexes = [i for i in invalid_indexes(conn) if i.schema == project.schema and not i.being_built]
        unvalidated = [c for c in not_valid_constraints(conn) if c.schema == project.schema]
        if unvalidated:
            meant = constraints_meant_valid([s.migration for s in report.statuses if s.migration is not None],
                                            {c.name for c in unvalidated})
            detection.unvalidated = [c for c in unvalidated if c.name in meant]
        for holder in advisory_lock_holders(conn, project.ledger.lock_key):
            idle = (holder.state or "").startswith("idle")
            # while a migration runs (status: running), every lock holder is busy, never stale
            if not report.running and (idle and (holder.age_seconds or 0) >= stale_lock_seconds or holder.state is None):
                detection.stale_lock_holders.append(holder)
            else:
                detection.busy_lock_holders.append(holder)
    return detection


def constraints_meant_valid(migrations: list[Migration], names: set[str]) -> set[str]:
    """Names among ``names`` that a migration adds without NOT VALID or validates explicitly."""
    meant: set[str] = set()
    for migration in migrations:
        if not any(name in migration.sql for name in names):
            continue
        for statement in split_statements(migration.sql, migration.name):
            if not isinstance(statement.node, ast.AlterTableStmt):
                continue
            for cmd in statement.node.cmds or ():
                if cmd.subtype == AT.AT_ValidateConstraint and cmd.name in names:
                    meant.add(cmd.name)
                elif (cmd.subtype == AT.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint)
                      and cmd.def_.conname in names and not cmd.def_.skip_validation):
                    meant.add(cmd.def_.conname)
    return meant

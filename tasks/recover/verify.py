"""Verify a recovery: status clean, no INVALID indexes, the migration lock free, and no drift."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from migration_guard.tasks.catalog import advisory_lock_holders, invalid_indexes
from migration_guard.tasks.db import connection
from migration_guard.tasks.models import State
from migration_guard.tasks.project import Project
from migration_guard.tasks.status.pipeline import read_status
from migration_guard.tasks.schema.drift import check_drift
from migration_guard.tasks.schema.model import DriftReport


@dataclass
class Verification:
    """What verification found; ``ok`` only when every check passed."""

    ok: bool
    status_summary: str = ""
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    drift: DriftReport | None = None
    pending: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The verification as JSON-ready data (the ``verification`` of ``recover --json``)."""
        return {"ok": self.ok, "status": self.status_summary, "problems": self.problems, "warnings": self.warnings,
                "pending": self.pending, "drift": self.drift.to_dict() if self.drift else None,
                "seconds": round(self.seconds, 3)}


def verify_recovery(project: Project, migration: str | None, expected_state: str | None, *,
                    drift: bool = True) -> Verification:
    """Check the result of a recovery.

    Args:
        project: the recovered project.
        migration: the recovered migration (None for debris-only recoveries).
        expected_state: ``applied`` or ``rolled_back`` for that migration.
        drift: build a shadow database from the applied migrations and compare schemas.
    """
    started = time.perf_counter()
    result = Verification(ok=True)
    report = read_status(project)
    result.status_summary = report.summary
    result.pending = [s.name for s in report.pending]
    for status in report.problems:
        result.problems.append(f"status: {status.name} is {status.state.value} ({status.detail})")
    if migration is not None and expected_state is not None:
        state = next((s.state for s in report.statuses if s.name == migration), None)
        wanted = State.APPLIED if expected_state == "applied" else State.ROLLED_BACK
        if state is not wanted:
            result.problems.append(f"status: {migration} is {state.value if state else 'absent'}, expected {wanted.value}")
    with connection(project.dsn, connect_timeout=project.settings.connect_timeout) as conn:
        for index in invalid_indexes(conn):
            if index.schema == project.schema:
                result.problems.append(f"INVALID index {index.schema}.{index.name} remains")
        for holder in advisory_lock_holders(conn, project.ledger.lock_key):
            if (holder.state or "").startswith("idle"):
                result.problems.append(f"the migration lock is still held by idle {holder.describe()}")
    if drift:
        result.drift = check_drift(project)
        if not result.drift.checked:
            result.warnings.append(f"drift not checked: {result.drift.reason}")
        for difference in result.drift.differences:
            result.problems.append(f"drift: {difference.describe()}")
    else:
        result.warnings.append("drift check skipped (--no-drift)")
    result.ok = not result.problems
    result.seconds = time.perf_counter() - started
    return result

"""backup_freshness: age of the newest verified backup of this database (BACKUP_DIR metadata).

Runs when ``thresholds.backup_max_age`` is configured. Older than the limit: MEDIUM; older than
twice the limit, or no verified backup at all: HIGH.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from migration_guard.tasks.checks.check import Check
from migration_guard.tasks.healthcheck.base import CheckContext, Outcome, Problem
from migration_guard.tasks.durations import format_duration

NAME = "backup_freshness"


def applies(ctx: CheckContext) -> bool:
    return ctx.config.thresholds.backup_max_age is not None


def run(ctx: CheckContext) -> Outcome:
    from migration_guard.tasks.backup import list_backups

    backups = list_backups(Path(ctx.settings.backup_dir))
    dbname = ctx.conn.info.dbname
    return evaluate(backups, dbname, ctx.now, ctx.config.thresholds.backup_max_age, ctx.target.name,
                    str(ctx.settings.backup_dir))


def evaluate(backups: list[Any], dbname: str, now: datetime, max_age: timedelta, label: str,
             backup_dir: str) -> Outcome:
    """Decide on backup metadata (objects with database, created_at, verified) — plain data."""
    verified = [b for b in backups if getattr(b, "database", None) == dbname and getattr(b, "verified", False)]
    suggestions = (f"migration-guard backup create --reason manual   # verified, then listed in {backup_dir}",
                   "migration-guard backup list")
    if not verified:
        return Outcome(
            f"no verified backup of {dbname} in {backup_dir}", None, "s",
            Problem("HIGH", "BACKUP", f"No verified backup of {label}",
                    f"{backup_dir} holds no verified backup of database {dbname}.",
                    "A failed migration or a data loss cannot be undone from a backup.", suggestions),
        )
    newest = max(verified, key=lambda b: b.created_at)
    age = now - newest.created_at
    summary = f"newest verified backup {format_duration(age)} old"
    severity = "HIGH" if age > 2 * max_age else "MEDIUM" if age > max_age else None
    if severity is None:
        return Outcome(summary, round(age.total_seconds()), "s")
    return Outcome(
        summary, round(age.total_seconds()), "s",
        Problem(severity, "BACKUP", f"Backup of {label} is {format_duration(age)} old",
                f"The newest verified backup of {dbname} was taken {format_duration(age)} ago "
                f"(limit {format_duration(max_age)}): {Path(newest.path).name}.",
                "Restoring would lose every change made since that backup.", suggestions),
    )


CHECK = Check(NAME, "age of the newest verified backup (thresholds.backup_max_age)", run, applies)

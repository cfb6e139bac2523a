"""Old log files: which ones maintenance deletes, and deleting them (plain logic, no Prefect)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from migration_guard.tasks.alerts.model import utcnow

LOG_PATTERNS = ("*.log", "*.log.*", "*.jsonl")


def old_files(log_dir: Path, max_age: timedelta, now: datetime) -> list[Path]:
    """Log files in ``log_dir`` (and corrupt alert files below it) not modified for ``max_age``."""
    log_dir = Path(log_dir)
    if not log_dir.is_dir():
        return []
    candidates = {p for pattern in LOG_PATTERNS for p in log_dir.glob(pattern)}
    candidates |= set(log_dir.rglob("*.corrupt"))
    cutoff = (now - max_age).timestamp()
    return sorted(p for p in candidates if p.is_file() and p.stat().st_mtime < cutoff)


def delete_old_logs(log_dir: Path, max_age: timedelta, now: datetime | None = None) -> list[str]:
    """Delete :func:`old_files`; return their names."""
    deleted = []
    for path in old_files(log_dir, max_age, now or utcnow()):
        try:
            os.unlink(path)
            deleted.append(str(path))
        except FileNotFoundError:
            continue
    return deleted

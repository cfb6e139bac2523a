"""Retention of the health history: what the daily maintenance deletes."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from migration_guard.tasks.history.backend import open_store

logger = logging.getLogger("migration_guard.history")


def prune_history(settings: Any, now: datetime | None = None) -> list[str]:
    """Delete history recorded more than HISTORY_RETENTION_DAYS before ``now``; one line per table
    that lost rows (``12 observations``). A store that cannot be opened is logged and skipped."""
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=float(settings.history_retention_days))
    try:
        with open_store(settings) as store:
            counts = store.prune(cutoff)
    except Exception as exc:  # noqa: BLE001 - maintenance goes on without the history
        logger.warning("health history not pruned: %s", exc)
        return []
    return [f"{count} {table.replace('_', ' ')} recorded before {cutoff:%Y-%m-%d %H:%M} UTC"
            for table, count in counts.items() if count]

"""Prefect tasks behind the maintenance flow: the plain steps of ``tasks/maintenance/steps.py``
wrapped as tasks (never cached: each run looks at the folders afresh)."""

from __future__ import annotations

from migration_guard.tasks.maintenance.steps import PLAIN_STEPS
from migration_guard.tasks.tasks import UNCACHED, prefect_steps

PREFECT_STEPS = prefect_steps(PLAIN_STEPS, {
    "delete_expired_alerts": {"name": "delete-expired-alerts", **UNCACHED},
    "delete_old_logs": {"name": "delete-old-logs", **UNCACHED},
    "apply_backup_retention": {"name": "apply-backup-retention", **UNCACHED},
    "prune_history": {"name": "prune-health-history", **UNCACHED},
    "drop_scratch_databases": {"name": "drop-scratch-databases", **UNCACHED},
})

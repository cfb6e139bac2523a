"""The maintenance workflow: what it keeps (options) and the sequence, written once for the CLI
and the flow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from migration_guard.tasks.maintenance.steps import PLAIN_STEPS, MaintenanceSteps
from migration_guard.tasks.settings import Settings


@dataclass(frozen=True)
class MaintenanceOptions:
    """What maintenance keeps: alerts resolved for less than ``resolved_alert_age``, logs written
    within ``log_age``, the newest ``backup_keep_last`` backups and all younger than
    ``backup_keep_days`` (``prune_backups=False`` leaves backups alone)."""

    resolved_alert_age: timedelta = timedelta(hours=24)
    log_age: timedelta = timedelta(days=7)
    backup_keep_last: int = 7
    backup_keep_days: float = 14
    prune_backups: bool = True


def run_maintenance(settings: Settings, options: MaintenanceOptions,
                    steps: MaintenanceSteps = PLAIN_STEPS) -> dict[str, list[str]]:
    """Delete what is no longer needed (firing alerts and the newest backups never); return what
    was deleted, by kind (``alerts_deleted``, ``logs_deleted``, ``backups_deleted``, ``history_pruned``:
    health history older than HISTORY_RETENTION_DAYS, one line per table; ``scratch_databases_dropped``:
    mg_shadow_* / mg_verify_* databases whose creator is gone)."""
    alerts = steps.delete_expired_alerts(settings, options.resolved_alert_age)
    logs = steps.delete_old_logs(settings.log_dir, options.log_age)
    backups = (steps.apply_backup_retention(settings.backup_dir, options.backup_keep_last, options.backup_keep_days)
               if options.prune_backups else [])
    history = steps.prune_history(settings)
    scratch = steps.drop_scratch_databases(settings)
    return {"alerts_deleted": alerts, "logs_deleted": logs, "backups_deleted": backups, "history_pruned": history,
            "scratch_databases_dropped": scratch}

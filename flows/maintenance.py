"""The `maintenance` flow (daily): delete resolved alerts older than 24 h, log files older than
7 days, and backups beyond retention — the seed's cron clean-up, as a Prefect run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import flow, get_run_logger

from migration_guard.blocks.resolve import resolve_settings
from migration_guard.flows.prefect_api import expected_failure
from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.maintenance.pipeline import MaintenanceOptions, run_maintenance
from migration_guard.tasks.maintenance.tasks import PREFECT_STEPS


@flow(name="maintenance", log_prints=False)
def maintenance_flow(
    database_url: str | None = None,
    migrations_dir: str | None = None,
    migration_tool: str | None = None,
    database_block: str | None = None,
    project_block: str | None = None,
    alerts_dir: str | None = None,
    log_dir: str | None = None,
    backup_dir: str | None = None,
    resolved_alert_hours: float = 24,
    log_days: float = 7,
    backup_keep_last: int = 7,
    backup_keep_days: float = 14,
    prune_backups: bool = True,
) -> dict[str, Any]:
    """Delete what is no longer needed; return what was deleted.

    Args:
        database_url, migrations_dir, migration_tool, database_block, project_block: as every flow
            (only the folders are used here).
        alerts_dir / log_dir / backup_dir: override ALERTS_DIR / LOG_DIR / BACKUP_DIR.
        resolved_alert_hours: resolved alerts older than this are deleted (firing ones never).
        log_days: log files not written for this many days are deleted.
        backup_keep_last / backup_keep_days: backups kept: the newest N, and all younger than D days.
        prune_backups: False leaves backups alone.
    """
    logger = get_run_logger()
    try:
        settings = resolve_settings(
            database_block, project_block, database_url=database_url, migrations_dir=migrations_dir,
            migration_tool=migration_tool, alerts_dir=alerts_dir, log_dir=log_dir, backup_dir=backup_dir,
        )
    except MigrationGuardError as exc:
        return expected_failure(exc, logger)
    options = MaintenanceOptions(
        resolved_alert_age=timedelta(hours=resolved_alert_hours), log_age=timedelta(days=log_days),
        backup_keep_last=backup_keep_last, backup_keep_days=backup_keep_days, prune_backups=prune_backups,
    )
    result = run_maintenance(settings, options, PREFECT_STEPS)
    logger.info("maintenance: deleted %d resolved alert(s), %d log file(s), %d backup(s)",
                len(result["alerts_deleted"]), len(result["logs_deleted"]), len(result["backups_deleted"]))
    return result

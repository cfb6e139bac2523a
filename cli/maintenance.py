"""`migration-guard maintenance`: the daily clean-up (resolved alerts, old logs, backup retention)."""

from __future__ import annotations

from datetime import timedelta

import typer

from migration_guard.cli.output import console, handle_errors, print_json


def maintenance(
    ctx: typer.Context,
    alert_hours: float = typer.Option(24, "--alert-hours", help="Delete alerts resolved longer ago than this."),
    log_days: float = typer.Option(7, "--log-days", help="Delete log files not written for this many days."),
    keep_last: int = typer.Option(7, "--keep-last", help="Backups: always keep the newest N."),
    keep_days: float = typer.Option(14, "--keep-days", help="Backups: keep every backup younger than D days."),
    no_backups: bool = typer.Option(False, "--no-backups", help="Leave backups alone."),
    as_json: bool = typer.Option(False, "--json", help="Print what was deleted as JSON."),
    as_flow: bool = typer.Option(False, "--flow", help="Run as the Prefect `maintenance` flow (costs Prefect start-up)."),
) -> None:
    """Delete resolved alerts older than 24 h, log files older than 7 days, and backups beyond
    retention (the newest --keep-last and all younger than --keep-days stay). Firing alerts and
    the newest backups are never deleted. Uses ALERTS_DIR, LOG_DIR and BACKUP_DIR.

    For cron: `0 2 * * * cd /srv/app && migration-guard maintenance`.

    Exit codes: 0 done; 1 a deletion failed; 2 bad usage or configuration.
    """
    _maintenance(ctx.obj, alert_hours, log_days, keep_last, keep_days, no_backups, as_json, as_flow)


@handle_errors(error_exit_code=1, config_exit_code=2)
def _maintenance(options, alert_hours: float, log_days: float, keep_last: int, keep_days: float,
                 no_backups: bool, as_json: bool, as_flow: bool) -> None:
    settings = options.settings()
    if as_flow:
        from migration_guard.flows.maintenance import maintenance_flow

        result = maintenance_flow(
            alerts_dir=str(settings.alerts_dir), log_dir=str(settings.log_dir), backup_dir=str(settings.backup_dir),
            resolved_alert_hours=alert_hours, log_days=log_days, backup_keep_last=keep_last,
            backup_keep_days=keep_days, prune_backups=not no_backups,
        )
    else:
        from migration_guard.tasks.maintenance.pipeline import MaintenanceOptions, run_maintenance

        result = run_maintenance(settings, MaintenanceOptions(
            resolved_alert_age=timedelta(hours=alert_hours), log_age=timedelta(days=log_days),
            backup_keep_last=keep_last, backup_keep_days=keep_days, prune_backups=not no_backups,
        ))
    if as_json:
        print_json(result)
        return
    scratch = result.get("scratch_databases_dropped") or []
    console.print(
        f"maintenance: deleted {len(result['alerts_deleted'])} resolved alert(s), "
        f"{len(result['logs_deleted'])} log file(s), {len(result['backups_deleted'])} backup(s)"
        + (f", {len(scratch)} leftover scratch database(s)" if scratch else "")
    )
    for key in ("alerts_deleted", "logs_deleted", "backups_deleted", "scratch_databases_dropped"):
        for path in result.get(key) or []:
            console.print(f"  deleted {path}", highlight=False)
    for line in result.get("history_pruned") or []:
        console.print(f"  health history: {line}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("maintenance")(maintenance)

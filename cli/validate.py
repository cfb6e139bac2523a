"""`migration-guard validate`: can we migrate safely right now? PASS / WARN / FAIL per check."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from migration_guard.cli.output import console, err_console, handle_errors, print_json

STATUS_STYLES = {"PASS": "green", "WARN": "yellow", "FAIL": "bold red", "SKIP": "dim"}


def validate(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON (stable keys; see docs/backups-and-validation.md)."),
    strict: bool = typer.Option(False, "--strict", help="Treat WARN as FAIL."),
    backup: bool = typer.Option(True, "--backup/--no-backup", help="Take and verify a backup as the last check (only when nothing FAILed)."),
    restore_check: bool = typer.Option(False, "--restore-check", help="Verify that backup by restoring it into a scratch database."),
    backup_dir: Optional[Path] = typer.Option(None, "--backup-dir", help="Backup folder (default: $BACKUP_DIR, else ./backups).", show_default=False),
    idle_seconds: float = typer.Option(5.0, "--idle-seconds", min=0, help="FAIL on sessions idle in a transaction at least this long."),
    long_seconds: float = typer.Option(300.0, "--long-transaction-seconds", min=0, help="WARN on transactions open at least this long."),
    as_flow: bool = typer.Option(False, "--flow", help="Run as the Prefect flow `validate` (task retries, artifact validation-<db>)."),
) -> None:
    """Check that migrating now is safe, then take a verified backup.

    Checks: connectivity and server version; privileges in the target schema; ledger state (no failed, modified or missing-locally migrations); lint of pending migrations; sessions idle in transaction or long transactions; locks on the tables the pending migrations touch; the migration advisory lock; INVALID indexes; room for a backup; the backup itself, verified.

    Exit codes: 0 every check passed (WARN passes unless --strict); 1 a check FAILed; 2 bad usage or configuration.
    """
    _validate(ctx.obj, as_json, strict, backup, restore_check, backup_dir, idle_seconds, long_seconds, as_flow)


@handle_errors(error_exit_code=1, config_exit_code=2)
def _validate(options, as_json, strict, backup, restore_check, backup_dir, idle_seconds, long_seconds, as_flow) -> None:
    from migration_guard.tasks.project import Project
    from migration_guard.tasks.validate import ValidationContext, ValidationOptions, run_validation

    overrides = {"backup_dir": backup_dir} if backup_dir is not None else {}
    settings = options.settings(**overrides)
    project = Project.from_settings(settings)
    if as_flow:
        report_dict = _run_flow(project, strict, backup, restore_check, idle_seconds, long_seconds, backup_dir)
        if as_json:
            print_json(report_dict)
        else:
            render_dict(report_dict)
        raise typer.Exit(report_dict["exit_code"])
    validate_options = ValidationOptions(idle_in_transaction_seconds=idle_seconds, long_transaction_seconds=long_seconds,
                                         backup=backup, restore_check=restore_check, strict=strict,
                                         backup_reason="validate")
    status = err_console.status("validating…") if not as_json and err_console.is_terminal else None
    if status is not None:
        status.start()

    def show(result) -> None:
        if status is not None:
            status.update(f"validating… {result.name}: {result.status.value}")

    try:
        report = run_validation(ValidationContext(project, validate_options), on_result=show)
    finally:
        if status is not None:
            status.stop()
    if as_json:
        print_json(report.to_dict())
    else:
        render_dict(report.to_dict())
    raise typer.Exit(report.exit_code)


def _run_flow(project, strict, backup, restore_check, idle_seconds, long_seconds, backup_dir) -> dict:
    import os

    from migration_guard.flows.prefect_api import require_prefect_api

    require_prefect_api()  # one-line error, not a traceback, when the API is down
    from migration_guard.flows.validate import validate_flow

    if backup_dir is not None:
        os.environ["BACKUP_DIR"] = str(backup_dir)
    # the URL reaches the in-process flow through the environment, never as a stored flow parameter
    os.environ["DATABASE_URL"] = project.dsn
    return validate_flow(
        migrations_dir=str(project.migrations_dir), migration_tool=project.ledger.tool,
        backup=backup, strict=strict, restore_check=restore_check,
        idle_in_transaction_seconds=idle_seconds, long_transaction_seconds=long_seconds,
    )


def render_dict(report: dict) -> None:
    """The report as a table: one row per check, then each problem's details and fix."""
    from rich.table import Table

    console.print(f"validating [bold]{report['database']}[/]")
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("check")
    table.add_column("status")
    table.add_column("reason", overflow="fold")
    for check in report["checks"]:
        style = STATUS_STYLES[check["status"]]
        table.add_row(check["title"], f"[{style}]{check['status']}[/]", check["reason"])
    console.print(table)
    for check in report["checks"]:
        if check["status"] in {"FAIL", "WARN"}:
            style = STATUS_STYLES[check["status"]]
            console.print(f"[{style}]{check['status']}[/] {check['title']}: {check['reason']}", markup=True)
            for detail in check["details"]:
                console.print(f"  • {detail}", markup=False)
            if check["fix"]:
                console.print(f"  fix: {check['fix']}", markup=False)
    verdict = "[green]" if report["ok"] else "[bold red]"
    console.print(f"{verdict}{report['summary']}[/]")


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)

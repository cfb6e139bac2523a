"""`migration-guard healthcheck`: every check on every configured database, alerts recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from migration_guard.cli.output import console, handle_errors, print_json

STATUS_STYLES = {"OK": "green", "WARNING": "yellow", "CRITICAL": "bold red", "UNKNOWN": "magenta"}


def healthcheck(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON (checks, counts, alerts)."),
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="Healthcheck config file, YAML or JSON (default: $HEALTHCHECK_CONFIG).",
        show_default=False,
    ),
    environment: Optional[str] = typer.Option(None, "--environment", "-e", help="Environment name (default: $ENVIRONMENT).",
                                              show_default=False),
    no_alerts: bool = typer.Option(False, "--no-alerts", help="Only check: do not fire, resolve or send alerts, write no log."),
    as_flow: bool = typer.Option(
        False, "--flow", help="Run as the Prefect `healthcheck` flow (artifacts, run history; costs Prefect start-up).",
    ),
) -> None:
    """Check connectivity, migrations, debris, database health, backups, freshness and assertions.

    Databases, thresholds, business freshness checks and SQL assertions come from the config file
    (HEALTHCHECK_CONFIG); without one, DATABASE_URL (and MIGRATIONS_DIR) is checked. Problems become
    alerts in ALERTS_DIR (and Slack / webhook when configured); problems that went away are resolved.
    One JSON line per check is appended to LOG_DIR/healthcheck.log.

    Exit codes (monitoring convention): 0 OK; 1 WARNING (a MEDIUM or LOW problem); 2 CRITICAL
    (a HIGH problem); 3 UNKNOWN (could not check: bad configuration, a check could not run);
    130 / 143 interrupted by SIGINT / SIGTERM (checks cancelled, no alert or log written).
    """
    _healthcheck(ctx.obj, as_json, config, environment, no_alerts, as_flow)


@handle_errors(error_exit_code=3, config_exit_code=3)
def _healthcheck(options, as_json: bool, config: Path | None, environment: str | None, no_alerts: bool,
                 as_flow: bool) -> None:
    settings = options.settings(healthcheck_config=config, environment=environment)
    if as_flow:
        data = _run_flow(options, settings, config, environment)
    else:
        data = _run_plain(settings, no_alerts)
    if as_json:
        print_json(data)
    else:
        render(data)
    raise typer.Exit(data["exit_code"])


def _run_plain(settings, no_alerts: bool) -> dict:
    from migration_guard.tasks.healthcheck.pipeline import run_healthcheck

    return run_healthcheck(settings, record=not no_alerts).to_dict()


def _run_flow(options, settings, config: Path | None, environment: str | None) -> dict:
    from migration_guard.flows.prefect_api import require_prefect_api

    require_prefect_api()  # one-line error, not a traceback, when the API is down
    from migration_guard.flows.healthcheck import healthcheck_flow
    from migration_guard.tasks.healthcheck.pipeline import HealthcheckCritical

    import os

    # The URL travels through the environment, not as a flow parameter: Prefect stores parameters.
    previous = os.environ.get("DATABASE_URL")
    if options.database_url:
        os.environ["DATABASE_URL"] = options.database_url
    try:
        state = healthcheck_flow(
            migrations_dir=str(options.migrations_dir) if options.migrations_dir else None,
            migration_tool=options.tool, config_path=str(config) if config else None, environment=environment,
            return_state=True,
        )
    finally:
        if options.database_url:
            if previous is None:
                os.environ.pop("DATABASE_URL", None)
            else:
                os.environ["DATABASE_URL"] = previous
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, HealthcheckCritical):
        return outcome.report
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def render(data: dict) -> None:
    """Table of checks, then each firing alert with its suggestions, then the verdict."""
    from rich.table import Table

    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("database", "check", "status", "observed", "summary"):
        table.add_column(column, overflow="fold")
    for c in data["checks"]:
        observed = "" if c["observed_value"] is None else f"{c['observed_value']} {c['observed_unit'] or ''}".strip()
        style = STATUS_STYLES.get(c["status"], "")
        table.add_row(c["database"], c["check"], f"[{style}]{c['status']}[/]", observed, c["summary"])
    console.print(table)
    for alert in data.get("alerts", {}).get("firing", []):
        console.print(f"\n[bold]{alert['severity']}[/] {alert['title']}  [dim]({alert['id']})[/]")
        console.print(f"  {alert['message']}", markup=False)
        for suggestion in alert["suggestions"]:
            console.print(f"  → {suggestion}", markup=False)
    failures = data.get("alerts", {}).get("notification_failures") or {}
    if failures:
        console.print(f"[yellow]{len(failures)} notification(s) not delivered; they are retried next run[/]")
    unsaved = data.get("alerts", {}).get("unsaved") or {}
    if unsaved:
        from rich.markup import escape

        reason = escape(next(iter(unsaved.values())))
        console.print(f"[yellow]{len(unsaved)} alert(s) not saved ({reason}); make room or fix ALERTS_DIR — "
                      "the next run saves them[/]", markup=True, highlight=False)
    style = STATUS_STYLES.get(data["status"], "")
    counts = ", ".join(f"{n} {s}" for s, n in data["counts"].items() if n)
    console.print(f"\nhealthcheck: [{style}]{data['status']}[/] ({counts}) in {data['duration_ms']:.0f} ms")


def register(app: typer.Typer) -> None:
    app.command("healthcheck")(healthcheck)

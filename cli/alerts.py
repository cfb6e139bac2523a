"""`migration-guard alerts list|clear|resolve`: the alert files in ALERTS_DIR."""

from __future__ import annotations



import typer

from migration_guard.cli.output import console, err_console, handle_errors, print_json

alerts_app = typer.Typer(
    name="alerts", no_args_is_help=True, add_completion=False,
    help="List, clear and resolve alerts (one JSON file each in ALERTS_DIR). Exit codes: 0 ok, 1 failed, 2 usage.",
)

SEVERITY_STYLES = {"HIGH": "bold red", "MEDIUM": "yellow", "LOW": "cyan"}


@alerts_app.command("list")
def list_command(
    ctx: typer.Context,
    show_all: bool = typer.Option(False, "--all", "-a", help="Include resolved alerts (default: firing only)."),
    as_json: bool = typer.Option(False, "--json", help="Print the alerts' JSON (the stored shape)."),
) -> None:
    """List firing alerts (newest last) with id, severity, database, check and title.

    Exit codes: 0 listed (also when none); 1 the folder cannot be read; 2 bad configuration.
    """
    _list(ctx.obj, show_all, as_json)


@handle_errors()
def _list(options, show_all: bool, as_json: bool) -> None:
    from migration_guard.tasks.alerts.api import list_alerts

    settings = options.settings()
    alerts, corrupt = list_alerts(settings, include_resolved=show_all)
    for name in corrupt:
        err_console.print(f"[yellow]warning:[/] {name} was corrupt; moved aside as {name}.corrupt")
    if as_json:
        print_json([a.to_json() for a in alerts])
        return
    if not alerts:
        console.print(f"no {'' if show_all else 'firing '}alerts in {settings.alerts_dir}")
        return
    rows = [(a.id, a.severity.value, a.status.value, a.database, a.check, a.title,
             f"{a.last_seen:%Y-%m-%d %H:%M}" if a.last_seen else "", str(a.occurrences)) for a in alerts]
    headers = ("id", "severity", "status", "database", "check", "title", "last seen", "seen")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    if sum(widths) + 2 * (len(widths) - 1) <= console.width:
        from rich.table import Table

        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        for column in headers:
            table.add_column(column, no_wrap=True)
        for row in rows:
            style = SEVERITY_STYLES.get(row[1], "")
            table.add_row(row[0], f"[{style}]{row[1]}[/]", *row[2:])
        console.print(table)
        return
    # narrow terminal: two lines per alert, the id whole (it is what `alerts resolve ID` takes)
    for alert_id, severity, status, database, check, title, last_seen, seen in rows:
        style = SEVERITY_STYLES.get(severity, "")
        console.print(f"{alert_id}  [{style}]{severity}[/] {status}  {check} on {database}  "
                      f"last seen {last_seen} ({seen}×)", soft_wrap=True, highlight=False)
        console.print(f"    {title}", soft_wrap=True, highlight=False)


@alerts_app.command("clear")
def clear_command(
    ctx: typer.Context,
    resolved: bool = typer.Option(True, "--resolved", help="Delete resolved alerts (the default)."),
    everything: bool = typer.Option(False, "--all", help="Delete every alert, firing ones too (they fire again, "
                                    "as new, if the problem is still there)."),
) -> None:
    """Delete alert files: resolved ones, or all of them with --all.

    Exit codes: 0 done; 1 the folder cannot be written; 2 bad configuration.
    """
    _clear(ctx.obj, everything)


@handle_errors()
def _clear(options, everything: bool) -> None:
    from migration_guard.tasks.alerts.api import delete_alerts

    settings = options.settings()
    deleted = delete_alerts(settings, include_firing=everything)
    console.print(f"deleted {len(deleted)} {'' if everything else 'resolved '}alert(s) from {settings.alerts_dir}")


@alerts_app.command("resolve")
def resolve_command(ctx: typer.Context, alert_id: str = typer.Argument(..., metavar="ID", help="Alert id (see `alerts list`).")) -> None:
    """Mark one alert resolved (Slack / webhook get the resolution). If the problem is still
    there, the next healthcheck fires it again.

    Exit codes: 0 resolved (or already resolved); 1 no alert with that id; 2 bad configuration.
    """
    _resolve(ctx.obj, alert_id)


@handle_errors()
def _resolve(options, alert_id: str) -> None:
    from migration_guard.tasks.alerts.api import resolve_alert_by_id
    from migration_guard.tasks.errors import MigrationGuardError

    alert = resolve_alert_by_id(options.settings(), alert_id)
    if alert is None:
        raise MigrationGuardError(f"no alert with id {alert_id!r}", "list them with: migration-guard alerts list --all")
    console.print(f"resolved {alert.id}: {alert.title}")


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")



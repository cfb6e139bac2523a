"""`migration-guard status`: every migration's state, for humans (table) or machines (JSON)."""

from __future__ import annotations

import typer

from migration_guard.cli.output import console, handle_errors, print_json

STATE_STYLES = {
    "applied": "green",
    "pending": "cyan",
    "rolled_back": "yellow",
    "failed": "bold red",
    "modified": "bold red",
    "missing_locally": "bold red",
    "running": "bold yellow",
}


def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print stable JSON (see README) instead of a table."),
    show_all: bool = typer.Option(False, "--all", "-a", help="List applied migrations too (default: only the last 5)."),
) -> None:
    """Show the state of every migration: applied, pending, running, failed, rolled_back, modified, missing_locally.

    Reads the migrations folder and the ledger table; takes no lock; changes nothing. A started,
    unfinished migration that a live session is applying right now is ``running`` (with the session
    and how sure the tool is), not failed.

    Exit codes (monitoring convention): 0 all applied; 1 pending or running migrations only;
    2 failed, modified or missing-locally migrations; 3 could not check (bad configuration,
    unreachable database, unreadable migration file).
    """
    _status(ctx.obj, as_json, show_all)


@handle_errors(error_exit_code=3, config_exit_code=3)
def _status(options, as_json: bool, show_all: bool) -> None:
    from migration_guard.tasks.status.pipeline import read_status
    from migration_guard.tasks.status.compute import report_to_dict

    report = read_status(options.project())
    if as_json:
        print_json(report_to_dict(report))
    else:
        render_report(report, show_all)
    raise typer.Exit(report.exit_code)


def render_report(report, show_all: bool = False) -> None:
    """Print a status report as a table, then each problem with its next command."""
    from rich.table import Table

    console.print(
        f"[bold]{report.tool}[/] migrations in [bold]{report.migrations_dir}[/] "
        f"against [bold]{report.database}[/] (ledger {report.ledger_table}"
        f"{'' if report.ledger_exists else ', not created yet'})"
    )
    statuses = list(report.statuses)
    hidden_applied = hidden_pending = 0
    if not show_all:
        statuses, hidden_applied = _collapse(statuses, "applied", keep="last")
        statuses, hidden_pending = _collapse(statuses, "pending", keep="first")
    if statuses:
        name_width = max(len(s.name) for s in statuses)
        detail_width = max(len(s.detail) for s in statuses)
        if name_width + detail_width + 17 <= console.width:
            table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
            table.add_column("migration", no_wrap=True)
            table.add_column("state", no_wrap=True)
            table.add_column("detail", overflow="fold")
            for s in statuses:
                table.add_row(s.name, f"[{STATE_STYLES.get(s.state.value, '')}]{s.state.value}[/]", s.detail)
            console.print(table)
        else:
            # too narrow for a table: one migration per line, never cut (people copy the name)
            for s in statuses:
                console.print(f"{s.name}  [{STATE_STYLES.get(s.state.value, '')}]{s.state.value}[/]"
                              + (f" — {s.detail}" if s.detail else ""), soft_wrap=True, highlight=False)
    if hidden_applied:
        console.print(f"[dim]… {hidden_applied} earlier applied migration{'' if hidden_applied == 1 else 's'} hidden (--all shows them)[/]")
    if hidden_pending:
        console.print(f"[dim]… and {hidden_pending} more pending migrations (--all shows them)[/]")
    for s in report.statuses:
        if s.suggestion and s.state.value not in {"pending", "rolled_back"}:
            console.print(f"[{STATE_STYLES.get(s.state.value, 'bold red')}]{s.state.value}[/] {s.name}: {s.detail}\n"
                          f"  next: {s.suggestion}", soft_wrap=True, highlight=False)
    if report.pending and report.problems:
        # migrate refuses while a migration is failed, modified or missing: advising it would loop
        console.print(f"{len(report.pending)} migration(s) to apply once the "
                      f"{'/'.join(sorted({s.state.value for s in report.problems}))} migration(s) above are dealt with")
    elif report.pending:
        after = "   # after the running one finishes" if report.running else ""
        console.print(f"{len(report.pending)} migration(s) to apply\n  next: migration-guard migrate{after}")
    verdict = {0: "[green]up to date[/]", 1: "[cyan]pending migrations[/]", 2: "[bold red]needs attention[/]"}
    if report.exit_code == 1 and report.running:
        verdict[1] = "[bold yellow]a migration is running[/]"
    console.print(f"summary: {report.summary} — {verdict[report.exit_code]}")


#: rows of one state shown before the rest are collapsed into a count
SHOWN_PER_STATE = 5


def _collapse(statuses: list, state: str, keep: str) -> tuple[list, int]:
    """``statuses`` with all but ``SHOWN_PER_STATE`` rows of ``state`` left out (the last ones, or the
    first ones), and how many were left out."""
    of_state = [s for s in statuses if s.state.value == state]
    if len(of_state) <= SHOWN_PER_STATE:
        return statuses, 0
    shown = of_state[-SHOWN_PER_STATE:] if keep == "last" else of_state[:SHOWN_PER_STATE]
    keep_names = {s.name for s in shown}
    return [s for s in statuses if s.state.value != state or s.name in keep_names], len(of_state) - len(shown)


def register(app: typer.Typer) -> None:
    app.command("status")(status)

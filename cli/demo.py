"""`migration-guard demo`: the seed's incident reproduced and recovered, end to end, in one command."""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer

from migration_guard.cli.output import console, handle_errors

#: alert channels the demo must never post to (a developer's real Slack)
CHANNEL_VARIABLES = ("SLACK_WEBHOOK_URL", "SLACK_BOT_TOKEN", "SLACK_CHANNEL", "ALERT_WEBHOOK_URL")


def demo(
    directory: Path = typer.Option(
        Path(".demo"), "--dir", help="Folder for the demo project, logs, alerts and backups.",
    ),
    keep: bool = typer.Option(
        False, "--keep", help="Keep the demo database (migration_guard_demo) afterwards to look around.",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect's flow and task logs."),
    database: str = typer.Option(
        "migration_guard_demo", "--database", help="Name of the demo's own database (created and dropped).",
    ),
) -> None:
    """Reproduce the seed's incident and recover from it, for real, in under a minute.

    Uses DATABASE_URL's server if set, else PostgreSQL at 127.0.0.1:5432, else an embedded
    PostgreSQL. It creates its own database `migration_guard_demo` (dropped at the end unless
    --keep) and touches nothing else. Then: a Prisma project whose
    20250101000000_enhance_payment_tracking migration fails halfway on real rows; healthcheck
    (HIGH alert); recover (diagnose, back up, repair, fix the ledger, verify); healthcheck (alert
    resolved); safe-migrate of the next migration; a summary with timings and where the alert
    files, logs and backups are. All flows run in this one process on a temporary local Prefect
    API: a configured PREFECT_API_URL is deliberately not used (the demo's failed runs would fire
    that server's automations), and Slack / webhook variables are ignored.

    Exit codes: 0 the incident was recovered and every step passed; 1 a step failed;
    2 no PostgreSQL server could be used.
    """
    _demo(directory, keep, verbose, database)


@handle_errors(error_exit_code=1, config_exit_code=2)
def _demo(directory: Path, keep: bool, verbose: bool, database: str) -> None:
    started = time.perf_counter()
    paths_root = directory.resolve()
    _prepare_environment(paths_root, verbose)

    from migration_guard.cli.demo_scenario.server import find_server
    from migration_guard.cli.demo_scenario.story import STEPS, DemoContext, DemoPaths, run_story, teardown
    from migration_guard.tasks.errors import ConfigError

    if not database.replace("_", "").isalnum() or not database.islower():
        raise ConfigError(f"--database {database!r}: use lowercase letters, digits and underscores")

    server = find_server()
    ctx = DemoContext(server=server, paths=DemoPaths(paths_root), database_name=database)
    console.print(f"[bold]migration-guard demo[/] on {server.source} ({server.target}); files in {paths_root}")
    console.print("[dim]Prefect starts a temporary local API first: ~10-20 s.[/]\n")
    try:
        results = run_story(ctx, _print_step)
    finally:
        if not keep and ctx.database_url:
            teardown(ctx)
    _print_summary(ctx, results, time.perf_counter() - started, keep)
    raise typer.Exit(0 if len(results) == len(STEPS) and all(r.ok for r in results) else 1)


def _prepare_environment(root: Path, verbose: bool) -> None:
    """Point the flows at the demo's folders and keep Prefect quiet; must run before Prefect imports."""
    for name in CHANNEL_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update({
        "ENVIRONMENT": "demo",
        "LOG_DIR": str(root / "logs"),
        "ALERTS_DIR": str(root / "logs" / "alerts"),
        "BACKUP_DIR": str(root / "backups"),
    })
    # Always a temporary local API: the demo's deliberately failed runs must never reach a real
    # server, whose automations would page someone. Prefect's built-in "ephemeral" profile has no
    # API URL, so a URL set in the user's active profile is not used either.
    os.environ.pop("PREFECT_API_URL", None)
    os.environ["PREFECT_PROFILE"] = "ephemeral"
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    if not verbose:  # failed runs are part of the story; their tracebacks are not
        os.environ["PREFECT_LOGGING_LEVEL"] = "CRITICAL"
    for folder in (root / "logs" / "alerts", root / "backups"):
        if folder.is_dir():  # a fresh story each run: old alerts would blur "raised" and "resolved"
            for file in folder.iterdir():
                if file.is_file():
                    file.unlink()


def _print_step(result) -> None:
    mark = "[green]✔[/]" if result.ok else ("[yellow]…[/]" if not result.available else "[bold red]✘[/]")
    console.print(f"{mark} [bold]{result.name}[/] ({result.seconds:.1f} s): {result.headline}")
    for line in result.details:
        console.print(f"    {line}", markup=False)


def _print_summary(ctx, results, total: float, keep: bool) -> None:
    from rich.table import Table

    from migration_guard.cli.demo_scenario.story import STEPS
    from migration_guard.tasks.secrets import mask_dsn

    table = Table(title="summary", box=None, header_style="bold", pad_edge=False)
    table.add_column("step")
    table.add_column("result")
    table.add_column("seconds", justify="right")
    for r in results:
        verdict = "ok" if r.ok else ("not available yet" if not r.available else "FAILED")
        table.add_row(r.name, verdict, f"{r.seconds:.1f}")
    table.add_row("total", "", f"{total:.1f}")
    console.print()
    console.print(table)
    paths = ctx.paths
    console.print(f"alert files: {paths.alerts}")
    console.print(f"logs:        {paths.logs}")
    console.print(f"backups:     {paths.backups}")
    console.print(f"project:     {paths.project / 'prisma'}")
    if keep:
        console.print(f"database:    {mask_dsn(ctx.database_url)} (kept; drop it with: "
                      f"DROP DATABASE {ctx.database_name})", markup=False)
    recovered = len(results) == len(STEPS) and all(r.ok for r in results)
    console.print("[bold green]incident recovered[/]" if recovered else "[bold red]demo did not complete[/]")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)

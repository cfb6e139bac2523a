"""`migration-guard recover`: finish or undo a failed migration, fix the ledger, verify."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import typer

from migration_guard.cli.output import console, handle_errors, print_json

if TYPE_CHECKING:  # annotations only: the recover modules load when the command runs
    from migration_guard.cli import GlobalOptions
    from migration_guard.tasks.project import Project
    from migration_guard.tasks.recover.model import RepairPlan
    from migration_guard.tasks.recover.pipeline import RecoverOptions
    from migration_guard.tasks.recover.report import RecoveryReport

EFFECT_STYLES = {"done": "green", "not_done": "cyan", "partly_done": "yellow", "unknown": "bold red"}


def recover(
    ctx: typer.Context,
    mode: str = typer.Option(
        "auto", "--mode", help="auto: forward only when every remaining statement is known and the cause is gone; "
        "forward: run what is not done; rollback: undo what was done.",
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Apply the plan without asking."),
    plan_only: bool = typer.Option(False, "--plan", help="Only print the diagnosis and the plan; change nothing."),
    no_backup: bool = typer.Option(False, "--no-backup", help="Skip the verified backup taken before any change."),
    no_drift: bool = typer.Option(False, "--no-drift", help="Skip the drift check (shadow database) in verification."),
    backup_scope: Optional[str] = typer.Option(
        None, "--backup-scope", help="What the pre-recovery backup holds: auto (scoped from 1 GiB), scoped (the whole "
        "schema + the data of the tables the failed migration touches) or full (default $BACKUP_SCOPE, else auto).",
        show_default=False),
    stale_lock_seconds: float = typer.Option(
        60.0, "--stale-lock-seconds", help="An idle session holding the migration lock this long is ended."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON (implies no prompt: use --yes)."),
    use_flow: bool = typer.Option(False, "--flow", help="Run as a Prefect flow run (the plan is approved by --yes)."),
) -> None:
    """Recover a failed migration: detect, back up, diagnose statement by statement, explain the
    failure, plan (forward or rollback), ask, execute with timeouts, fix the ledger like
    `prisma migrate resolve`, verify (status, INVALID indexes, drift) and report.

    Exit codes: 0 recovered, nothing to do, or (--plan) a plan that can run; 1 not recovered or a
    plan that needs a decision (the reason and the next step are printed), or the plan was
    declined; 2 bad usage or configuration; 4 recovered, but the verification could not run (the
    connection was lost: re-run `migration-guard status`); 130 / 143 interrupted by SIGINT / SIGTERM
    (the running statement rolled back; one `interrupted:` line says what committed).
    """
    _recover(ctx.obj, mode, yes, plan_only, no_backup, no_drift, stale_lock_seconds, as_json, use_flow, backup_scope)


@handle_errors(error_exit_code=1, config_exit_code=2)
def _recover(options: GlobalOptions, mode: str, yes: bool, plan_only: bool, no_backup: bool, no_drift: bool,
             stale_lock_seconds: float, as_json: bool, use_flow: bool, backup_scope: str | None = None) -> None:
    from migration_guard.tasks.recover.pipeline import RecoverOptions, run_recovery
    from migration_guard.tasks.recover.steps import PLAIN_STEPS

    recover_options = RecoverOptions(mode=mode, backup=not no_backup, plan_only=plan_only, drift=not no_drift,
                                     stale_lock_seconds=stale_lock_seconds)
    project = options.project(**({"backup_scope": backup_scope} if backup_scope is not None else {}))
    if use_flow:
        _run_flow(project, recover_options, yes, as_json, backup_scope)
        return

    def approve(plan: RepairPlan, report: RecoveryReport) -> bool:
        if not as_json:
            render_findings(report)
            console.print(plan.render(), markup=False)
        if yes:
            return True
        if as_json:
            return False
        try:
            return typer.confirm("Apply this plan?", default=False)
        except typer.Abort:  # no answer: stdin closed or not a terminal (cron, CI, nohup)
            unanswered.append(True)
            return False

    unanswered: list[bool] = []
    report = run_recovery(project, recover_options, PLAIN_STEPS, approve)
    if as_json:
        print_json(report.to_dict())
    else:
        render_report(report, printed_plan=report.outcome not in ("not_recovered", "planned", "nothing_to_do")
                      or report.execution is not None)
    if unanswered:
        console.print("\nno answer to 'Apply this plan?' (stdin is closed or not a terminal): nothing was changed; "
                      "to apply the plan without asking: migration-guard recover --yes", markup=False)
    raise typer.Exit(report.exit_code)


def _run_flow(project: Project, recover_options: RecoverOptions, yes: bool, as_json: bool,
              backup_scope: str | None = None) -> None:
    import os

    from migration_guard.flows.prefect_api import require_prefect_api

    require_prefect_api()  # one-line error, not a traceback, when the API is down
    from migration_guard.flows.recover import recover_flow

    # the URL reaches the in-process flow through the environment, never as a stored flow parameter
    os.environ["DATABASE_URL"] = project.dsn
    state = recover_flow(
        migrations_dir=str(project.migrations_dir), migration_tool=project.ledger.tool,
        mode=recover_options.mode, approve=yes, backup=recover_options.backup, drift=recover_options.drift,
        plan_only=recover_options.plan_only, stale_lock_seconds=recover_options.stale_lock_seconds,
        backup_scope=backup_scope, return_state=True,
    )
    if state.is_completed():
        data = state.result()
        print_json(data) if as_json else console.print(f"recover: {data['outcome']}")
        raise typer.Exit(0)
    console.print(f"recover: not recovered: {state.message}")
    raise typer.Exit(1)


def render_findings(report: RecoveryReport) -> None:
    """Detection, diagnosis table and cause (before the plan is shown)."""
    from rich.table import Table

    console.print(f"[bold]recover[/] {report.database}")
    for line in report.findings:
        console.print(f"  found: {line}")
    if report.diagnosis is not None:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        for column in ("#", "line", "statement", "effect", "why"):
            table.add_column(column, overflow="fold")
        for row in report.diagnosis.to_rows():
            style = EFFECT_STYLES.get(row["effect"], "")
            table.add_row(str(row["#"]), str(row["line"]), row["statement"], f"[{style}]{row['effect']}[/]", row["why"])
        console.print(table)
        console.print(f"diagnosis: {report.diagnosis.summary} in {report.diagnosis.seconds * 1000:.0f} ms")
    if report.cause is not None:
        console.print(f"cause: {report.cause.describe()}", markup=False)
        if report.cause.listing_query:
            console.print(f"  list them: {report.cause.listing_query}", markup=False)


def render_report(report: RecoveryReport, printed_plan: bool) -> None:
    """The outcome: result, verification, reason and next step."""
    if not printed_plan:
        render_findings(report)
        if report.plan is not None:
            console.print(report.plan.render(), markup=False)
    if report.backup:
        console.print(f"backup: {report.backup.get('path')} (verified: {report.backup.get('verified')})", markup=False)
        if report.backup.get("restore_point"):
            from migration_guard.tasks.backup.metadata import restore_point_line

            console.print(restore_point_line(report.backup["restore_point"]), markup=False, highlight=False)
    if report.execution:
        console.print(f"executed: {report.execution['steps_run']} step(s); {report.execution['ledger']}", markup=False)
    if report.verification:
        verification = report.verification
        drift = verification.get("drift") or {}
        console.print(f"verified: status {verification['status']}; drift "
                      f"{'none' if drift.get('clean') else (drift.get('differences') or drift.get('reason') or 'skipped')}",
                      markup=False)
        for problem in verification["problems"]:
            console.print(f"  problem: {problem}", markup=False)
    for warning in report.warnings:
        console.print(f"warning: {warning}", markup=False)
    verdict = {"nothing_to_do": "[green]nothing to recover[/]", "recovered": "[green]recovered[/]",
               "planned": "[cyan]plan only[/]", "declined": "[yellow]declined[/]",
               "not_recovered": "[bold red]not recovered[/]",
               "recovered_unverified": "[bold yellow]recovered, not verified (re-run the verification)[/]"}[report.outcome]
    console.print(f"recover: {verdict}" + (f" in {report.timings.get('total', 0):.1f}s" if report.timings else ""))
    if report.reason:
        console.print(f"  reason: {report.reason}", markup=False)
    if report.next_step:
        console.print(f"  next: {report.next_step}", markup=False)


def register(app: typer.Typer) -> None:
    """Add the ``recover`` command to the CLI."""
    app.command("recover")(recover)

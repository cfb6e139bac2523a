"""`migration-guard migrate`: safe-migrate — validate, back up, apply without half-applied states,
hooks, start-up check, verify; `--dry-run` prints the plan and changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from migration_guard.cli.output import console, err_console, handle_errors, print_json


def migrate(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the full plan (statements, locks, transactional or not, lint) and change nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the report (or plan) as JSON instead of text."),
    validate: bool = typer.Option(True, "--validate/--skip-validate", help="Run the validate checks first (a FAIL stops before anything is touched)."),
    backup: bool = typer.Option(True, "--backup/--skip-backup", help="Take and verify a pg_dump before applying."),
    strict: bool = typer.Option(False, "--strict", help="Validation WARN counts as FAIL."),
    on_failure: str = typer.Option("report", "--on-failure", help="report | restore: when a hook, the start-up check or verification fails AFTER the migrations committed, only report the rollback choices (default) or restore the pre-migrate backup."),
    lock_timeout: Optional[str] = typer.Option(None, "--lock-timeout", help="lock_timeout per attempt, e.g. 1s (default $LOCK_TIMEOUT, 500ms): the longest any query queues behind the migration.", show_default=False),
    statement_timeout: Optional[str] = typer.Option(None, "--statement-timeout", help="statement_timeout, e.g. 10min; 0 = none; inherit = the role's own (default $STATEMENT_TIMEOUT, else inherit).", show_default=False),
    retry_budget: Optional[float] = typer.Option(None, "--retry-budget", min=0, help="Seconds to keep retrying a statement that hits lock_timeout (default $MIGRATE_RETRY_BUDGET, 60).", show_default=False),
    lock_wait: Optional[float] = typer.Option(None, "--lock-wait", min=0, help="Seconds to wait for the migration advisory lock (default $MIGRATE_LOCK_WAIT, 60).", show_default=False),
    validate_constraints: bool = typer.Option(False, "--validate-constraints", help="VALIDATE constraints added NOT VALID, during verification."),
    hooks: Optional[list[str]] = typer.Option(None, "--hook", help="Post-migrate command (repeatable; split like a shell, run without one). Default $POST_MIGRATE_HOOKS.", show_default=False),
    startup_command: Optional[str] = typer.Option(None, "--startup-check-command", help="Command that must exit 0 (default $STARTUP_CHECK_COMMAND).", show_default=False),
    startup_url: Optional[str] = typer.Option(None, "--startup-check-url", help="URL that must answer 2xx (default $STARTUP_CHECK_URL).", show_default=False),
    backup_dir: Optional[Path] = typer.Option(None, "--backup-dir", help="Backup folder (default $BACKUP_DIR, else ./backups).", show_default=False),
    allow: Optional[list[str]] = typer.Option(None, "--allow", help="Acknowledge a lint rule's blocking findings for this run, e.g. --allow ban-drop-column (repeatable or comma-separated; the report lists each acknowledged change). A -- migration-guard:ignore comment above the statement does the same for good.", show_default=False),
    backup_scope: Optional[str] = typer.Option(None, "--backup-scope", help="What the pre-migrate backup holds: auto (scoped from 1 GiB), scoped (the whole schema + the data of the tables the pending migrations touch) or full (default $BACKUP_SCOPE, else auto).", show_default=False),
    as_flow: bool = typer.Option(False, "--flow", help="Run as the Prefect flow `safe-migrate` (artifact safe-migrate-<db>; uses PREFECT_API_URL or a temporary server)."),
) -> None:
    """Apply pending migrations safely (the safe-migrate flow).

    Steps: validate -> verified backup -> migration lock (the tool's advisory lock, bounded wait) ->
    apply each migration in ONE transaction with lock_timeout/statement_timeout (or step by step,
    resumable, when it holds CREATE INDEX CONCURRENTLY and the like), retrying lock timeouts with
    backoff -> post-migrate hooks -> start-up check -> verify. A failure alerts with the exact
    recovery command and the backup to restore.

    Exit codes: 0 applied (or nothing to apply, or --dry-run); 1 the migration failed (see the
    report's recovery commands); 2 bad usage or configuration; 130 / 143 interrupted by SIGINT /
    SIGTERM (the running statement cancelled and rolled back; one `interrupted:` line says what committed).
    """
    if on_failure not in {"report", "restore"}:
        from migration_guard.cli.output import print_error

        print_error(f"--on-failure must be report or restore, got {on_failure!r}")
        raise typer.Exit(2)
    _migrate(ctx.obj, dry_run, as_json, validate, backup, strict, on_failure, lock_timeout, statement_timeout,
             retry_budget, lock_wait, validate_constraints, hooks, startup_command, startup_url, backup_dir, as_flow,
             allow, backup_scope)


@handle_errors(error_exit_code=1, config_exit_code=2)
def _migrate(options, dry_run, as_json, validate, backup, strict, on_failure, lock_timeout, statement_timeout,
             retry_budget, lock_wait, validate_constraints, hooks, startup_command, startup_url, backup_dir, as_flow,
             allow=None, backup_scope=None) -> None:
    from migration_guard.tasks.migrate.hooks import parse_commands
    from migration_guard.tasks.migrate.options import options_from_settings
    from migration_guard.tasks.project import Project

    overrides = {"backup_dir": backup_dir, "backup_scope": backup_scope}
    settings = options.settings(**{k: v for k, v in overrides.items() if v is not None})
    project = Project.from_settings(settings)
    hook_commands = [c for h in hooks for c in parse_commands(h, name="--hook")] if hooks else None
    run_options = options_from_settings(
        settings, lock_timeout=lock_timeout, statement_timeout=statement_timeout, retry_budget_s=retry_budget,
        lock_wait_s=lock_wait, hooks=hook_commands, startup_check_command=startup_command,
        startup_check_url=startup_url, validate=validate, backup=backup, strict=strict, on_failure=on_failure,
        validate_constraints=validate_constraints, allow=allow,
    )
    if as_flow:
        _run_flow(project, run_options, dry_run, as_json, backup_dir, backup_scope)
        return
    from migration_guard.tasks.migrate.steps import PLAIN_STEPS

    if dry_run:
        from migration_guard.tasks.migrate.plan import plan_markdown

        plan = PLAIN_STEPS.plan(project, run_options)
        if as_json:
            print_json({"dry_run": True, "plan": plan.to_dict()})
        else:
            _print_markdown(plan_markdown(plan))
        raise typer.Exit(0)
    from migration_guard.tasks.migrate.alerting import alert_outcome
    from migration_guard.tasks.migrate.pipeline import run_safe_migrate
    from migration_guard.tasks.migrate.report import report_markdown

    _log_to_stderr(as_json)
    report = run_safe_migrate(project, run_options, PLAIN_STEPS)
    alert_outcome(settings, report)
    if as_json:
        print_json(report.to_dict())
    else:
        _print_markdown(report_markdown(report.to_dict()))
    raise typer.Exit(report.exit_code)


def _run_flow(project, run_options, dry_run: bool, as_json: bool, backup_dir, backup_scope: str | None) -> None:
    import os

    from migration_guard.flows.prefect_api import require_prefect_api

    require_prefect_api()  # one-line error, not a traceback, when the API is down
    # Without PREFECT_API_URL Prefect starts a temporary server; on a busy machine it needs longer
    # than Prefect's default to come up.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    from migration_guard.flows.safe_migrate import SafeMigrateFailed, safe_migrate_flow
    from migration_guard.tasks.migrate.report import report_markdown

    apply = run_options.apply
    # the URL reaches the in-process flow through the environment, never as a stored flow parameter
    os.environ["DATABASE_URL"] = project.dsn
    try:
        result = safe_migrate_flow(
            migrations_dir=str(project.migrations_dir), migration_tool=project.ledger.tool,
            dry_run=dry_run, validation=run_options.validate, backup=run_options.backup, strict=run_options.strict,
            on_failure=run_options.on_failure, lock_timeout=str(apply.lock_timeout),
            statement_timeout=str(apply.statement_timeout), retry_budget_s=apply.retry_budget_s,
            lock_wait_s=apply.lock_wait_s, validate_constraints=run_options.validate_constraints,
            hooks=run_options.hooks, startup_check_command=run_options.startup_check_command,
            startup_check_url=run_options.startup_check_url, backup_dir=str(backup_dir) if backup_dir else None,
            backup_scope=backup_scope, allow=list(run_options.allow) or None,
        )
    except SafeMigrateFailed as exc:
        if as_json:
            print_json(exc.report.to_dict())
        else:
            _print_markdown(report_markdown(exc.report.to_dict()))
        raise typer.Exit(1) from None
    if as_json:
        print_json(result)
    elif dry_run:
        from migration_guard.tasks.migrate.plan import MigrationPlan, plan_markdown

        _print_markdown(plan_markdown(MigrationPlan(**result["plan"])))
    else:
        _print_markdown(report_markdown(result))
    raise typer.Exit(0)


def _print_markdown(text: str) -> None:
    console.print(text, markup=False, highlight=False)


def _log_to_stderr(quiet: bool) -> None:
    """Progress lines (lock waits, blockers, each migration) on stderr."""
    import logging

    class _ErrConsoleHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            err_console.print(self.format(record), markup=False, highlight=False)

    logger = logging.getLogger("migration_guard.migrate")
    if not any(isinstance(h, _ErrConsoleHandler) or type(h).__name__ == "_ErrConsoleHandler" for h in logger.handlers):
        handler = _ErrConsoleHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False  # else Python's last-resort handler prints warnings twice


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate)

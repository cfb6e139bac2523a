"""`migration-guard blocks register | create-from-env NAME`: Prefect blocks from the environment."""

from __future__ import annotations

import typer

from migration_guard.cli.output import console, handle_errors

blocks_app = typer.Typer(
    help="Prefect blocks: register the block types, save blocks from the environment variables.",
    no_args_is_help=True,
)


@blocks_app.command("register")
def register_types() -> None:
    """Register migration-guard's block types (PostgreSQL Database, Migration Project) and
    prefect-slack's Slack Webhook with the Prefect API (PREFECT_API_URL).

    Exit codes: 0 registered; 1 the Prefect API failed; 2 bad configuration.
    """
    _register_types()


@handle_errors(error_exit_code=1, config_exit_code=2)
def _register_types() -> None:
    from migration_guard.blocks.registration import register_block_types

    for slug in api_call(register_block_types):
        console.print(f"registered block type [bold]{slug}[/]")


@blocks_app.command("create-from-env")
def create_from_env(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Name for the saved blocks, e.g. production (lowercase, dashes)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace blocks of the same name."),
) -> None:
    """Save blocks named NAME from the same variables the CLI reads.

    DATABASE_URL (+ CONNECT_TIMEOUT) becomes a PostgreSQL Database block (URL stored encrypted);
    MIGRATIONS_DIR, MIGRATION_TOOL, DB_SCHEMA, ENVIRONMENT, LOCK_TIMEOUT, STATEMENT_TIMEOUT,
    BACKUP_DIR, ALERTS_DIR and LOG_DIR become a Migration Project block; SLACK_WEBHOOK_URL and
    ALERT_WEBHOOK_URL become the alert-channel blocks the automations notify. Flows then take
    `database_block=NAME project_block=NAME`.

    Exit codes: 0 saved; 1 the Prefect API failed; 2 bad configuration or the name exists.
    """
    _create_from_env(ctx.obj, name, overwrite)


@handle_errors(error_exit_code=1, config_exit_code=2)
def _create_from_env(options, name: str, overwrite: bool) -> None:
    from migration_guard.blocks.registration import save_blocks_from_settings

    check_block_name(name)
    saved = api_call(lambda: save_blocks_from_settings(options.settings(), name, overwrite=overwrite))
    if saved.database:
        console.print(f"saved PostgreSQL Database block [bold]{saved.database}[/]")
    if saved.project:
        console.print(f"saved Migration Project block [bold]{saved.project}[/]")
    for channel in saved.channels:
        console.print(f"saved alert channel [bold]{channel.slug}[/]")
    for what in saved.skipped:
        console.print(f"[yellow]skipped[/] {what}")


def check_block_name(name: str) -> None:
    """Block document names: lowercase letters, digits and dashes (Prefect's slug rule).

    Raises:
        ConfigError: any other character.
    """
    from migration_guard.tasks.errors import ConfigError

    if not name or not all(c.islower() or c.isdigit() or c == "-" for c in name):
        raise ConfigError(f"invalid block name {name!r}: use lowercase letters, digits and dashes")


def api_call(fn):
    """Run a Prefect API call; turn connection failures into one clear line."""
    from migration_guard.tasks.errors import MigrationGuardError

    try:
        return fn()
    except MigrationGuardError:
        raise
    except Exception as exc:
        raise MigrationGuardError(
            f"the Prefect API call failed: {type(exc).__name__}: {exc}",
            "check PREFECT_API_URL (prefect config view) and that `prefect server start` is running",
        ) from None


def register(app: typer.Typer) -> None:
    app.add_typer(blocks_app, name="blocks")

"""Registering block types and saving blocks built from the same Settings the CLI uses."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migration_guard.tasks.errors import ConfigError

if TYPE_CHECKING:
    from migration_guard.blocks.channels import ChannelRef
    from migration_guard.blocks.database import PostgresDatabase
    from migration_guard.blocks.project import MigrationProject
    from migration_guard.tasks.settings import Settings


@dataclass
class SavedBlocks:
    """What `blocks create-from-env` saved (names only; nothing secret)."""

    database: str | None = None
    project: str | None = None
    channels: list[ChannelRef] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def register_block_types() -> list[str]:
    """Register migration-guard's block types (and prefect-slack's) with the Prefect API; return slugs."""
    from prefect_slack import SlackWebhook

    from migration_guard.blocks.database import PostgresDatabase
    from migration_guard.blocks.project import MigrationProject

    slugs = []
    for block_class in (PostgresDatabase, MigrationProject, SlackWebhook):
        block_class.register_type_and_schema(_sync=True)
        slugs.append(block_class.get_block_type_slug())
    return slugs


def database_block_from_settings(settings: Settings) -> PostgresDatabase:
    """A PostgresDatabase block holding DATABASE_URL (as a secret) and CONNECT_TIMEOUT."""
    from migration_guard.blocks.database import PostgresDatabase

    return PostgresDatabase(dsn=settings.require_database_url(), connect_timeout=settings.connect_timeout)


def project_block_from_settings(settings: Settings) -> MigrationProject:
    """A MigrationProject block from MIGRATIONS_DIR, MIGRATION_TOOL, DB_SCHEMA, timeouts and folders.

    Folders are stored as absolute paths, so a worker started elsewhere on this machine finds them.
    """
    from migration_guard.blocks.project import MigrationProject

    values: dict[str, Any] = {
        "migration_tool": settings.migration_tool,
        "migrations_dir": str(_absolute(settings.require_migrations_dir())),
        "db_schema": settings.db_schema,
        "environment": settings.environment,
        "lock_timeout": settings.lock_timeout,
        "statement_timeout": settings.statement_timeout,
        "backup_dir": str(_absolute(settings.backup_dir)),
        "alerts_dir": str(_absolute(settings.alerts_dir)),
        "log_dir": str(_absolute(settings.log_dir)),
        "healthcheck_config": str(_absolute(settings.healthcheck_config)) if settings.healthcheck_config else None,
        "migrate_retry_budget": settings.migrate_retry_budget,
        "migrate_lock_wait": settings.migrate_lock_wait,
        "post_migrate_hooks": _hook_commands(settings.post_migrate_hooks),
        "hook_timeout": settings.hook_timeout,
        "startup_check_command": settings.startup_check_command,
        "startup_check_url": settings.startup_check_url,
        "startup_check_timeout": settings.startup_check_timeout,
    }
    return MigrationProject(**values)


def save_blocks_from_settings(settings: Settings, name: str, overwrite: bool = False) -> SavedBlocks:
    """Save the PostgresDatabase, MigrationProject and alert-channel blocks ``settings`` describe.

    Args:
        settings: resolved from the environment and CLI options.
        name: document name for the database and project blocks.
        overwrite: replace existing documents of the same name.

    Raises:
        ConfigError: nothing to save, a block already exists (without overwrite), or the API fails.
    """
    from migration_guard.blocks.channels import save_alert_channels

    saved = SavedBlocks()
    try:
        if settings.database_url is not None:
            database_block_from_settings(settings).save(name, overwrite=overwrite, _sync=True)
            saved.database = name
        else:
            saved.skipped.append("database (DATABASE_URL is not set)")
        saved.channels = save_alert_channels(settings, overwrite=True)
        try:
            project = project_block_from_settings(settings)
        except ConfigError as exc:
            saved.skipped.append(f"project ({exc.message})")
        else:
            _name_channels(project, saved.channels)
            project.save(name, overwrite=overwrite, _sync=True)
            saved.project = name
    except ValueError as exc:
        if "already exists" in str(exc) or "already in use" in str(exc):
            raise ConfigError(
                f"a block named {name!r} already exists", "pass --overwrite to replace it, or choose another name"
            ) from None
        raise
    if saved.database is None and saved.project is None and not saved.channels:
        raise ConfigError(
            "nothing to save: set DATABASE_URL and/or MIGRATIONS_DIR (and optionally SLACK_WEBHOOK_URL, "
            "ALERT_WEBHOOK_URL)"
        )
    return saved


def _name_channels(project: MigrationProject, channels: list[ChannelRef]) -> None:
    """Name the saved channel blocks in the project block: the flows' alerts go there."""
    from migration_guard.blocks.channels import SLACK_CHANNEL_NAME, WEBHOOK_CHANNEL_NAME

    for channel in channels:
        if channel.name == SLACK_CHANNEL_NAME:
            project.slack_block = channel.name
        elif channel.name == WEBHOOK_CHANNEL_NAME:
            project.webhook_block = channel.name


def _hook_commands(value: str | None) -> list[str]:
    """POST_MIGRATE_HOOKS (a JSON list of argv lists, or ';'-separated commands) as command lines."""
    if not value or not value.strip():
        return []
    try:
        parsed = json.loads(value)
    except ValueError:
        return [part.strip() for part in value.split(";") if part.strip()]
    return [shlex.join(argv) if isinstance(argv, list) else str(argv) for argv in parsed]


def _absolute(path: Path) -> Path:
    return path if path.is_absolute() else (Path.cwd() / path).resolve()

"""`MigrationProject`: where a project's migrations live and how migration-guard treats them."""

from __future__ import annotations

import json
import shlex
from typing import Any, Literal

from prefect.blocks.core import Block
from pydantic import Field


class MigrationProject(Block):
    """One migration project: tool, folder, schema, timeouts, backups, hooks and start-up check.

    Flows receive the block's name as ``project_block``. Unset fields fall back to the
    environment variables (MIGRATIONS_DIR, MIGRATION_TOOL, DB_SCHEMA, LOCK_TIMEOUT ...).
    """

    _block_type_name = "Migration Project"
    _block_type_slug = "migration-guard-migration-project"
    _description = "A migrations folder (Prisma or plain SQL) and how migration-guard applies it."

    migration_tool: Literal["prisma", "sql"] | None = Field(
        default=None, description="prisma | sql; detected from the folder when unset."
    )
    migrations_dir: str | None = Field(
        default=None, description="Migrations folder as the worker sees it (e.g. /app/prisma/migrations)."
    )
    db_schema: str | None = Field(default=None, description="Schema the migrations target (default public).")
    environment: str | None = Field(default=None, description="Name shown in alerts, e.g. production.")
    lock_timeout: str | None = Field(default=None, description="lock_timeout for migration DDL, e.g. 5s.")
    statement_timeout: str | None = Field(default=None, description="statement_timeout for migration statements; 0 = none.")
    backup_dir: str | None = Field(default=None, description="Where backups are written.")
    alerts_dir: str | None = Field(default=None, description="Folder of alert JSON files.")
    log_dir: str | None = Field(default=None, description="Folder of log files.")
    healthcheck_config: str | None = Field(
        default=None, description="Healthcheck config file (databases, thresholds, freshness checks, assertions)."
    )
    migrate_retry_budget: float | None = Field(
        default=None, ge=0, description="Seconds to keep retrying a statement that hits lock_timeout."
    )
    migrate_lock_wait: float | None = Field(
        default=None, ge=0, description="Seconds to wait for the migration advisory lock."
    )
    post_migrate_hooks: list[str] = Field(
        default_factory=list, description="Commands run after a successful migration, e.g. npx prisma generate."
    )
    hook_timeout: float | None = Field(default=None, gt=0, description="Seconds each post-migrate hook may run.")
    startup_check_command: str | None = Field(
        default=None, description="Command that must exit 0 once the application runs on the new schema."
    )
    startup_check_url: str | None = Field(
        default=None, description="URL that must answer 2xx once the application runs on the new schema."
    )
    startup_check_timeout: float | None = Field(default=None, gt=0, description="Seconds the start-up check may take.")
    slack_block: str | None = Field(
        default=None, description="SlackWebhook block the flows' alerts go to (default: migration-guard-slack, "
        "when it exists)."
    )
    webhook_block: str | None = Field(
        default=None, description="Custom webhook block the flows' alert JSON goes to (default: "
        "migration-guard-webhook, when it exists)."
    )

    def settings_values(self) -> dict[str, Any]:
        """The Settings fields this block sets (unset fields are left to the environment).

        The channel block names are not settings: :func:`blocks.loading.values_from_blocks` reads them."""
        values: dict[str, Any] = {
            "migration_tool": self.migration_tool,
            "migrations_dir": self.migrations_dir,
            "DB_SCHEMA": self.db_schema,
            "environment": self.environment,
            "lock_timeout": self.lock_timeout,
            "statement_timeout": self.statement_timeout,
            "backup_dir": self.backup_dir,
            "alerts_dir": self.alerts_dir,
            "log_dir": self.log_dir,
            "healthcheck_config": self.healthcheck_config,
            "migrate_retry_budget": self.migrate_retry_budget,
            "migrate_lock_wait": self.migrate_lock_wait,
            "post_migrate_hooks": json.dumps([shlex.split(c) for c in self.post_migrate_hooks])
            if self.post_migrate_hooks else None,
            "hook_timeout": self.hook_timeout,
            "startup_check_command": self.startup_check_command,
            "startup_check_url": self.startup_check_url,
            "startup_check_timeout": self.startup_check_timeout,
        }
        return {key: value for key, value in values.items() if value is not None}

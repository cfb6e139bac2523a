"""`MigrationProject`: where a project's migrations live and how migration-guard treats them."""

from __future__ import annotations

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
    backup_keep_last: int | None = Field(default=None, ge=0, description="Backups always kept (retention).")
    backup_keep_days: int | None = Field(default=None, ge=0, description="Backups younger than this are kept.")
    alerts_dir: str | None = Field(default=None, description="Folder of alert JSON files.")
    log_dir: str | None = Field(default=None, description="Folder of log files.")
    post_migrate_hooks: list[str] = Field(
        default_factory=list, description="Commands run after a successful migration, e.g. npx prisma generate."
    )
    startup_check: str | None = Field(
        default=None, description="Command that must exit 0, or an http(s) URL that must answer 2xx, after migrating."
    )

    def settings_values(self) -> dict[str, Any]:
        """The Settings fields this block sets (unset fields are left to the environment)."""
        values: dict[str, Any] = {
            "migration_tool": self.migration_tool,
            "migrations_dir": self.migrations_dir,
            "DB_SCHEMA": self.db_schema,
            "environment": self.environment,
            "lock_timeout": self.lock_timeout,
            "statement_timeout": self.statement_timeout,
            "backup_dir": self.backup_dir,
            "backup_keep_last": self.backup_keep_last,
            "backup_keep_days": self.backup_keep_days,
            "alerts_dir": self.alerts_dir,
            "log_dir": self.log_dir,
            "post_migrate_hooks": self.post_migrate_hooks or None,
            "startup_check": self.startup_check,
        }
        return {key: value for key, value in values.items() if value is not None}

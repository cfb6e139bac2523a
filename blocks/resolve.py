"""The one path from flow parameters to Settings: block names first, then explicit values, then
environment variables. Every flow calls :func:`resolve_settings`; nothing else builds Settings."""

from __future__ import annotations

from typing import Any

from migration_guard.tasks.settings import Settings, load_settings


def resolve_settings(
    database_block: str | None = None,
    project_block: str | None = None,
    **overrides: Any,
) -> Settings:
    """Settings for a flow run.

    Args:
        database_block: name of a saved PostgresDatabase block (its DSN becomes database_url).
        project_block: name of a saved MigrationProject block (migrations folder, tool, timeouts ...).
        overrides: explicit values (None = not given), e.g. database_url, migrations_dir.

    Raises:
        ConfigError: a block cannot be loaded, or a value is invalid.
    """
    values: dict[str, Any] = {}
    if database_block or project_block:
        from migration_guard.blocks.loading import values_from_blocks  # Prefect import stays lazy

        values.update(values_from_blocks(database_block=database_block, project_block=project_block))
    values.update({k: v for k, v in overrides.items() if v is not None})
    return load_settings(**values)

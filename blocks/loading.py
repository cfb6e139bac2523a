"""Block documents → Settings values. Called by :func:`blocks.resolve.resolve_settings` only."""

from __future__ import annotations

from typing import Any

from migration_guard.tasks.errors import ConfigError


def values_from_blocks(database_block: str | None, project_block: str | None) -> dict[str, Any]:
    """Settings values read from a saved PostgresDatabase and/or MigrationProject block, and the
    alert channels: the Slack / webhook blocks the project block names, else the ones `deploy`
    saves by convention (``migration-guard-slack``, ``migration-guard-webhook``) when they exist.

    Secrets stay ``SecretStr``; unset project fields are omitted, so the environment fills them.

    Args:
        database_block: name of a PostgresDatabase block document, or None.
        project_block: name of a MigrationProject block document, or None.

    Raises:
        ConfigError: the block does not exist, the API cannot be reached, or its data is invalid.
    """
    from migration_guard.blocks.channels import channel_values_from_blocks
    from migration_guard.blocks.database import PostgresDatabase
    from migration_guard.blocks.project import MigrationProject

    values: dict[str, Any] = {}
    slack_block = webhook_block = None
    if project_block:
        project = _load(MigrationProject, project_block, "--project-block")
        values.update(project.settings_values())
        slack_block, webhook_block = project.slack_block, project.webhook_block
    if database_block or project_block:
        values.update(channel_values_from_blocks(slack_block, webhook_block))
    if database_block:
        values.update(_load(PostgresDatabase, database_block, "--database-block").settings_values())
    return values


def _load(block_class: Any, name: str, what: str) -> Any:
    try:
        return block_class.load(name, _sync=True)
    except ValueError as exc:
        if "Unable to find block document" in str(exc) or "not found" in str(exc).lower():
            raise ConfigError(
                f"{block_class.__name__} block {name!r} does not exist on the Prefect API",
                f"create it with `migration-guard blocks create-from-env {name}` (reads DATABASE_URL, "
                "MIGRATIONS_DIR ...), or fix the block name",
            ) from None
        raise ConfigError(f"{block_class.__name__} block {name!r} is invalid: {exc}") from None
    except Exception as exc:  # the API is down, unreachable, or refuses us
        raise ConfigError(
            f"could not load {block_class.__name__} block {name!r}: {type(exc).__name__}: {exc}",
            "check PREFECT_API_URL (prefect config view) and that the Prefect server is running",
        ) from None

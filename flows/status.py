"""The `status` flow: migrations on disk joined with the ledger, as a Prefect run with an artifact.

The CLI's `status` command calls the plain logic directly (no Prefect start-up cost); this flow is
for deployments and for composing into other flows.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from migration_guard.blocks.resolve import resolve_settings
from migration_guard.flows.prefect_api import expected_failure
from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.project import Project
from migration_guard.tasks.status.compute import report_to_dict
from migration_guard.tasks.status.pipeline import read_status
from migration_guard.tasks.status.tasks import PREFECT_STEPS


@flow(name="status", log_prints=False)
def status_flow(
    database_url: str | None = None,
    migrations_dir: str | None = None,
    migration_tool: str | None = None,
    database_block: str | None = None,
    project_block: str | None = None,
) -> dict[str, Any]:
    """Status of every migration (JSON shape of `migration-guard status --json`).

    Args:
        database_url: overrides DATABASE_URL.
        migrations_dir: overrides MIGRATIONS_DIR.
        migration_tool: prisma | sql; overrides MIGRATION_TOOL.
        database_block: name of a PostgresDatabase block to read the connection from.
        project_block: name of a MigrationProject block to read the project settings from.
    """
    try:
        project = Project.from_settings(
            resolve_settings(
                database_block, project_block,
                database_url=database_url, migrations_dir=migrations_dir, migration_tool=migration_tool,
            )
        )
    except MigrationGuardError as exc:
        return expected_failure(exc, get_run_logger())
    return report_to_dict(read_status(project, PREFECT_STEPS))

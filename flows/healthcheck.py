"""The `healthcheck` flow: every check on every configured database, concurrently (one mapped
task per database), then alerts (files, Slack, webhook), the JSON-lines log and Prefect artifacts.

The run fails when a HIGH alert is firing, so the deployment's run history shows red; it
completes otherwise. The CLI's `healthcheck` command runs the same logic without Prefect.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from migration_guard.blocks.resolve import resolve_settings
from migration_guard.flows.prefect_api import expected_failure, flow_run_url
from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.healthcheck.tasks import PREFECT_STEPS
from migration_guard.tasks.healthcheck.pipeline import critical_error, run_healthcheck


@flow(name="healthcheck", log_prints=False, task_runner=ThreadPoolTaskRunner(max_workers=16))
def healthcheck_flow(
    database_url: str | None = None,
    migrations_dir: str | None = None,
    migration_tool: str | None = None,
    database_block: str | None = None,
    project_block: str | None = None,
    config_path: str | None = None,
    environment: str | None = None,
    check_timeout: int | None = None,
    alerts_dir: str | None = None,
    log_dir: str | None = None,
    fail_on_high: bool = True,
    auto_recover: str | None = None,
) -> dict[str, Any]:
    """Check every database, record alerts, publish artifacts; the report's JSON is returned.

    Args:
        database_url: overrides DATABASE_URL (ignored when the config lists databases). Prefect
            stores flow parameters: in deployments use database_block (or the environment) instead.
        migrations_dir: overrides MIGRATIONS_DIR (enables the migrations check).
        migration_tool: prisma | sql; overrides MIGRATION_TOOL.
        database_block: name of a PostgresDatabase block.
        project_block: name of a MigrationProject block.
        config_path: healthcheck config file (overrides HEALTHCHECK_CONFIG).
        environment: name in alerts and artifact keys (overrides ENVIRONMENT).
        check_timeout: seconds a check query may run (overrides CHECK_TIMEOUT).
        alerts_dir / log_dir: override ALERTS_DIR / LOG_DIR.
        fail_on_high: raise HealthcheckCritical (run Failed) when a HIGH alert fires.
        auto_recover: off | safe; overrides AUTO_RECOVER (safe: repair the safe classes, alerted
            before and after).

    Raises:
        HealthcheckCritical: a HIGH alert is firing (``.report`` holds the JSON).
        ConfigError: bad configuration.
        (Both end the run Failed with one error line and no traceback in its logs.)
    """
    logger = get_run_logger()
    try:
        settings = resolve_settings(
            database_block, project_block, database_url=database_url, migrations_dir=migrations_dir,
            migration_tool=migration_tool, healthcheck_config=config_path, environment=environment,
            check_timeout=check_timeout, alerts_dir=alerts_dir, log_dir=log_dir, auto_recover=auto_recover,
        )
    except MigrationGuardError as exc:
        return expected_failure(exc, logger)
    report = run_healthcheck(settings, PREFECT_STEPS, flow_run_url=flow_run_url(), logger=logger)
    error = critical_error(report) if fail_on_high else None
    if error is not None:
        return expected_failure(error, logger)
    return report.to_dict()

"""The `healthcheck` flow: every check on every configured database, concurrently (one mapped
task per database), then alerts (files, Slack, webhook), the JSON-lines log and Prefect artifacts.

The run fails when a HIGH alert is firing, so the deployment's run history shows red; it
completes otherwise. The CLI's `healthcheck` command runs the same logic without Prefect.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, unmapped
from prefect.task_runners import ThreadPoolTaskRunner

from migration_guard.blocks.resolve import resolve_settings
from migration_guard.tasks.alerts.model import utcnow
from migration_guard.tasks.healthcheck.config import load_config, resolve_targets
from migration_guard.tasks.healthcheck.report import HealthcheckCritical, HealthReport, high_alerts
from migration_guard.tasks.healthcheck.tasks import (
    check_database_task, publish_artifacts_task, record_alerts_task, write_log_task,
)


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

    Raises:
        HealthcheckCritical: a HIGH alert is firing (``.report`` holds the JSON).
        ConfigError: bad configuration.
    """
    logger = get_run_logger()
    settings = resolve_settings(
        database_block, project_block, database_url=database_url, migrations_dir=migrations_dir,
        migration_tool=migration_tool, healthcheck_config=config_path, environment=environment,
        check_timeout=check_timeout, alerts_dir=alerts_dir, log_dir=log_dir,
    )
    config = load_config(settings.healthcheck_config)
    targets = resolve_targets(settings, config)
    started = utcnow()
    futures = check_database_task.map(targets, settings=unmapped(settings), config=unmapped(config), now=unmapped(started))
    results = [r for future in futures for r in future.result()]
    report = HealthReport(settings.environment, started, results,
                          (utcnow() - started).total_seconds() * 1000)
    record_alerts_task(report, settings, targets, _flow_run_url())
    write_log_task(report, settings, targets)
    publish_artifacts_task(report)
    for r in report.results:
        if r.status.value != "OK":
            logger.warning("%s:%s %s: %s", r.database, r.check, r.status.value, r.summary)
    logger.info("healthcheck of %d database(s): %s in %.0f ms", len(targets), report.status.value, report.duration_ms)
    data = report.to_dict()
    high = high_alerts(report)
    if fail_on_high and high:
        raise HealthcheckCritical(
            f"{len(high)} HIGH alert(s) firing: " + "; ".join(f"{a.database}: {a.title}" for a in high[:5]), data
        )
    return data


def _flow_run_url() -> str | None:
    try:
        from prefect.runtime import flow_run

        return flow_run.ui_url
    except Exception:  # noqa: BLE001 - a missing UI URL only loses the link
        return None

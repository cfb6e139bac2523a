"""Prefect tasks of the healthcheck flow: the plain steps of ``steps.py`` wrapped as tasks
(``check-database`` per database, ``auto-recover``, ``record-alerts``, ``write-healthcheck-log``,
``record-health-history``) plus the two parts
only Prefect has: the fan-out as a task map, and ``publish-health-artifacts``."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from prefect import task, unmapped

from migration_guard.tasks.autorecover.report import recovery_key, recovery_markdown
from migration_guard.tasks.healthcheck.artifacts import alerts_key, alerts_markdown, table_key, table_rows
from migration_guard.tasks.healthcheck.base import CheckResult
from migration_guard.tasks.healthcheck.config import HealthcheckConfig
from migration_guard.tasks.healthcheck.report import HealthReport
from migration_guard.tasks.healthcheck.steps import PLAIN_STEPS, CheckDatabase
from migration_guard.tasks.healthcheck.target import DatabaseTarget
from migration_guard.tasks.retry import DB_TASK_OPTIONS
from migration_guard.tasks.tasks import UNCACHED, prefect_steps


def fan_out_as_task_map(check: CheckDatabase, targets: list[DatabaseTarget], settings: Any,
                        config: HealthcheckConfig, now: datetime) -> list[list[CheckResult]]:
    """``check`` (the ``check-database`` task) mapped over the databases: one task run each,
    concurrent under the flow's task runner. Not a task itself: it only submits them."""
    futures = check.map(targets, settings=unmapped(settings), config=unmapped(config), now=unmapped(now))  # type: ignore[attr-defined]
    return [future.result() for future in futures]


@task(name="publish-health-artifacts", **UNCACHED)
def publish_artifacts_task(report: HealthReport) -> list[str]:
    """Table artifact ``db-health-<environment>`` (every check), markdown artifact
    ``db-health-alerts-<environment>`` (firing alerts) and, when AUTO_RECOVER looked at something,
    ``db-health-recovery-<environment>`` (each action). Returns the keys."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    table = table_key(report.environment)
    create_table_artifact(table=table_rows(report), key=table,
                          description=f"Database health, {report.environment}: {report.status.value}")
    alerts = alerts_key(report.environment)
    create_markdown_artifact(markdown=alerts_markdown(report), key=alerts,
                             description=f"Firing alerts, {report.environment}")
    keys = [table, alerts]
    if report.auto_recover is not None and report.auto_recover.actions:
        recovery = recovery_key(report.environment)
        create_markdown_artifact(markdown=recovery_markdown(report.auto_recover, report.environment), key=recovery,
                                 description=f"Auto-recovery, {report.environment}")
        keys.append(recovery)
    return keys


#: ``fan_out`` and ``publish`` are replaced, not wrapped: a fan-out is a Prefect map of the
#: ``check-database`` task (wrapping it as a task would nest every database's run under one task),
#: and publishing artifacts exists only under Prefect (the plain step publishes nothing).
PREFECT_STEPS = dataclasses.replace(
    prefect_steps(PLAIN_STEPS, {
        "check_database": {"name": "check-database", "task_run_name": "check-{target.name}",
                           **DB_TASK_OPTIONS, **UNCACHED},
        "record_alerts": {"name": "record-alerts", **UNCACHED},
        "write_log": {"name": "write-healthcheck-log", **UNCACHED},
        "record_history": {"name": "record-health-history", **UNCACHED},
        "auto_recover": {"name": "auto-recover", **UNCACHED},
    }),
    fan_out=fan_out_as_task_map,
    publish=publish_artifacts_task,
)

"""Prefect tasks behind the healthcheck flow: check one database (mapped over the fleet), record
alerts, write the log, publish artifacts. The logic lives in ``tasks/checks`` and ``tasks/alerts``."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from migration_guard.tasks.alerts.api import ReconcileResult
from migration_guard.tasks.healthcheck.base import CheckResult, CheckStatus, DatabaseTarget
from migration_guard.tasks.healthcheck.config import HealthcheckConfig
from migration_guard.tasks.healthcheck.report import HealthReport, record_alerts, write_log
from migration_guard.tasks.healthcheck.runner import check_database
from migration_guard.tasks.retry import DB_TASK_OPTIONS

_TASK = {"cache_policy": NO_CACHE, "persist_result": False}


@task(name="check-database", task_run_name="check-{target.name}", **DB_TASK_OPTIONS, **_TASK)
def check_database_task(target: DatabaseTarget, settings: Any, config: HealthcheckConfig,
                        now: datetime) -> list[CheckResult]:
    """Every check on one database. Database problems are results, not exceptions; bounded by
    CONNECT_TIMEOUT and CHECK_TIMEOUT (a task timeout would not interrupt a blocking query)."""
    return check_database(target, settings, config, now=now)


@task(name="record-alerts", **_TASK)
def record_alerts_task(report: HealthReport, settings: Any, targets: list[DatabaseTarget],
                       flow_run_url: str | None) -> ReconcileResult:
    """Fire / update / resolve alerts and notify (a notification failure never fails this task)."""
    return record_alerts(report, settings, targets, flow_run_url)


@task(name="write-healthcheck-log", **_TASK)
def write_log_task(report: HealthReport, settings: Any, targets: list[DatabaseTarget]) -> str:
    """One JSON line per check in LOG_DIR/healthcheck.log."""
    return str(write_log(report, settings, targets))


def artifact_key(prefix: str, environment: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    slug = re.sub(r"[^a-z0-9-]+", "-", environment.lower()).strip("-") or "default"
    return f"{prefix}-{slug}"


@task(name="publish-health-artifacts", **_TASK)
def publish_artifacts_task(report: HealthReport) -> list[str]:
    """Table artifact ``db-health-<environment>`` (every check) and markdown artifact
    ``db-health-alerts-<environment>`` (firing alerts). Returns the keys."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    table_key = artifact_key("db-health", report.environment)
    rows = [{
        "database": r.database, "check": r.check, "status": r.status.value,
        "observed": "" if r.observed_value is None else f"{r.observed_value} {r.observed_unit or ''}".strip(),
        "summary": r.summary, "duration_ms": round(r.duration_ms, 1),
    } for r in report.results]
    create_table_artifact(table=rows, key=table_key,
                          description=f"Database health, {report.environment}: {report.status.value}")
    alerts_key = artifact_key("db-health-alerts", report.environment)
    create_markdown_artifact(markdown=alerts_markdown(report), key=alerts_key,
                             description=f"Firing alerts, {report.environment}")
    return [table_key, alerts_key]


def alerts_markdown(report: HealthReport) -> str:
    """Markdown list of the firing alerts with their suggestions."""
    firing = report.alerts.firing if report.alerts else []
    counts = {s: sum(1 for r in report.results if r.status is s) for s in CheckStatus}
    lines = [f"# Database health: {report.status.value} ({report.environment})", "",
             ", ".join(f"{n} {s.value}" for s, n in counts.items() if n), ""]
    if not firing:
        lines.append("No alert is firing.")
    for alert in sorted(firing, key=lambda a: -a.severity.rank):
        lines += [f"## {alert.severity.value}: {alert.title}", "",
                  f"*{alert.category}* on `{alert.database}`, check `{alert.check}`, "
                  f"seen {alert.occurrences} time(s) since {alert.first_seen:%Y-%m-%d %H:%M} UTC", "",
                  alert.message, "", f"**Impact:** {alert.impact}", ""]
        lines += [f"1. `{s}`" for s in alert.suggestions]
        lines.append("")
    return "\n".join(lines)

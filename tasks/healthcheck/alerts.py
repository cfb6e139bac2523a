"""The alerts a healthcheck run implies: fire, update and resolve them (store, lifecycle,
notifications through ``tasks/alerts``)."""

from __future__ import annotations

from typing import Any

from migration_guard.tasks.alerts.api import ReconcileResult, observed_alert, reconcile, settings_secrets
from migration_guard.tasks.alerts.model import Alert
from migration_guard.tasks.healthcheck.base import CheckStatus
from migration_guard.tasks.healthcheck.report import HealthReport
from migration_guard.tasks.healthcheck.target import DatabaseTarget
from migration_guard.tasks.secrets import passwords_in

COMPONENT = "healthcheck"


def alerts_for(report: HealthReport, settings: Any, targets: list[DatabaseTarget],
               flow_run_url: str | None = None) -> tuple[list[Alert], list[tuple[str, str]]]:
    """(observed alerts, checked (check, database) pairs). UNKNOWN results are in neither, so their
    alerts stay untouched (no false resolution, no false alert)."""
    secrets = target_secrets(settings, targets)
    observed, checked = [], []
    for result in report.results:
        if result.status is CheckStatus.UNKNOWN:
            continue
        checked.append((result.check, result.database))
        if result.problem is None:
            continue
        p = result.problem
        observed.append(observed_alert(
            settings, secrets, check=result.check, database=result.database, category=p.category,
            severity=p.severity, title=p.title, message=p.message, impact=p.impact,
            suggestions=list(p.suggestions), original_error=p.original_error, component=COMPONENT,
            flow_run_url=flow_run_url, problem=p.key,
        ))
    return observed, checked


def target_secrets(settings: Any, targets: list[DatabaseTarget]) -> list[str]:
    """Every secret of the settings and the targets' DSNs, to redact from alerts and logs."""
    return settings_secrets(settings) + [p for t in targets for p in passwords_in(t.dsn)]


def record_alerts(report: HealthReport, settings: Any, targets: list[DatabaseTarget],
                  flow_run_url: str | None = None) -> ReconcileResult:
    """Fire, update and resolve alerts for this run (store + lifecycle + notifications)."""
    observed, checked = alerts_for(report, settings, targets, flow_run_url)
    report.alerts = reconcile(settings, observed, checked, secrets=target_secrets(settings, targets))
    return report.alerts


def high_alerts(report: HealthReport) -> list[Alert]:
    """Firing HIGH alerts of this run."""
    if report.alerts is None:
        return []
    return [a for a in report.alerts.firing if a.severity.value == "HIGH"]

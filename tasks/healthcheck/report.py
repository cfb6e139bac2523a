"""A healthcheck run as data: results of every database, overall status, the JSON shapes
(CLI --json, health+json for `serve`), the JSON-lines log, and the alerts it implies."""

from __future__ import annotations

import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from migration_guard.tasks.alerts.api import ReconcileResult, observed_alert, reconcile, settings_secrets
from migration_guard.tasks.alerts.model import Alert, iso, utcnow
from migration_guard.tasks.healthcheck.base import CheckResult, CheckStatus, DatabaseTarget, worst
from migration_guard.tasks.healthcheck.config import HealthcheckConfig
from migration_guard.tasks.secrets import passwords_in, redact

COMPONENT = "healthcheck"
HEALTH_STATUS = {CheckStatus.OK: "pass", CheckStatus.WARNING: "warn", CheckStatus.CRITICAL: "fail",
                 CheckStatus.UNKNOWN: "warn"}


@dataclass
class HealthReport:
    """Every check result of one run."""

    environment: str
    started_at: datetime
    results: list[CheckResult]
    duration_ms: float = 0.0
    alerts: ReconcileResult | None = field(default=None, repr=False)

    @property
    def status(self) -> CheckStatus:
        return worst([r.status for r in self.results]) if self.results else CheckStatus.UNKNOWN

    @property
    def exit_code(self) -> int:
        return self.status.exit_code

    @property
    def databases(self) -> list[str]:
        return list(dict.fromkeys(r.database for r in self.results))

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON of `migration-guard healthcheck --json` and the flow's return value."""
        data: dict[str, Any] = {
            "status": self.status.value,
            "exit_code": self.exit_code,
            "environment": self.environment,
            "started_at": iso(self.started_at),
            "duration_ms": round(self.duration_ms, 1),
            "databases": self.databases,
            "counts": {s.value: sum(1 for r in self.results if r.status is s) for s in CheckStatus},
            "checks": [r.to_dict() for r in self.results],
        }
        if self.alerts is not None:
            data["alerts"] = {
                "firing": [a.to_json() for a in self.alerts.firing],
                "resolved": [a.id for a in self.alerts.resolved],
                "notified": [{"id": i, "event": e} for i, e in self.alerts.notified],
                "notification_failures": self.alerts.failed_notifications,
                "corrupt_files": self.alerts.corrupt_files,
                "unsaved": self.alerts.unsaved,
            }
        return data

    def to_health_json(self, service: str = "migration-guard") -> dict[str, Any]:
        """The health+json shape (draft-inadarei-api-health-check): status pass/warn/fail and
        checks keyed ``database:check``."""
        checks: dict[str, list[dict[str, Any]]] = {}
        for r in self.results:
            entry: dict[str, Any] = {
                "componentId": r.database,
                "componentType": "datastore",
                "status": HEALTH_STATUS[r.status],
                "time": iso(self.started_at),
                "output": r.summary if r.status is not CheckStatus.OK else "",
            }
            if r.observed_value is not None:
                entry["observedValue"] = r.observed_value
            if r.observed_unit:
                entry["observedUnit"] = r.observed_unit
            checks.setdefault(r.key, []).append(entry)
        overall = {CheckStatus.OK: "pass", CheckStatus.WARNING: "warn", CheckStatus.UNKNOWN: "warn",
                   CheckStatus.CRITICAL: "fail"}[self.status]
        return {"status": overall, "serviceId": service, "description": f"database health ({self.environment})",
                "checks": checks}


def run_checks(targets: list[DatabaseTarget], settings: Any, config: HealthcheckConfig) -> HealthReport:
    """Check every database concurrently (threads; one slow database only holds its own thread).
    Plain Python, no Prefect: what the CLI and `serve` use."""
    from migration_guard.tasks.healthcheck.runner import check_database

    started = utcnow()
    clock = utcnow()
    with ThreadPoolExecutor(max_workers=max(1, min(32, len(targets)))) as pool:
        per_database = list(pool.map(lambda t: check_database(t, settings, config, now=started), targets))
    elapsed = (utcnow() - clock).total_seconds() * 1000
    return HealthReport(settings.environment, started, [r for rs in per_database for r in rs], elapsed)


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
            flow_run_url=flow_run_url,
        ))
    return observed, checked


def target_secrets(settings: Any, targets: list[DatabaseTarget]) -> list[str]:
    return settings_secrets(settings) + [p for t in targets for p in passwords_in(t.dsn)]


def record_alerts(report: HealthReport, settings: Any, targets: list[DatabaseTarget],
                  flow_run_url: str | None = None) -> ReconcileResult:
    """Fire, update and resolve alerts for this run (store + lifecycle + notifications)."""
    observed, checked = alerts_for(report, settings, targets, flow_run_url)
    report.alerts = reconcile(settings, observed, checked, secrets=target_secrets(settings, targets))
    return report.alerts


def write_log(report: HealthReport, settings: Any, targets: list[DatabaseTarget]) -> Path:
    """Append one JSON line per check to LOG_DIR/healthcheck.log (secrets redacted).

    A full or read-only disk never fails the healthcheck: the append is undone (no torn JSON line)
    and a warning names the file.
    """
    log_dir = Path(settings.log_dir)
    path = log_dir / "healthcheck.log"
    secrets = target_secrets(settings, targets)
    lines = []
    for r in report.results:
        record = {"time": iso(report.started_at), "environment": report.environment, **r.to_dict()}
        lines.append(redact(json.dumps(record, default=str), secrets))
    data = ("\n".join(lines) + "\n").encode("utf-8")
    try:
        log_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
        # 0640 whatever the umask: nobody else may forge health history
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    except OSError as exc:
        logging.getLogger("migration_guard.healthcheck").warning("%s not written: %s", path, exc.strerror or exc)
        return path
    start = os.fstat(fd).st_size
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except OSError as exc:
        os.ftruncate(fd, start)
        logging.getLogger("migration_guard.healthcheck").warning("%s not written: %s", path, exc.strerror or exc)
    finally:
        os.close(fd)
    return path


class HealthcheckCritical(Exception):
    """Raised by the healthcheck flow when a HIGH alert is firing, so the run shows as Failed.
    ``report`` carries the run's JSON (read it with ``state.result(raise_on_failure=False).report``)."""

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report

    def __reduce__(self):  # keeps ``report`` when Prefect pickles the exception as the run's result
        return (HealthcheckCritical, (str(self), self.report))


def high_alerts(report: HealthReport) -> list[Alert]:
    """Firing HIGH alerts of this run."""
    if report.alerts is None:
        return []
    return [a for a in report.alerts.firing if a.severity.value == "HIGH"]

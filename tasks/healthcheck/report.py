"""A healthcheck run as data: the results of every database, the overall status, and its JSON
shapes (CLI --json and the flow's return value; health+json for `serve`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from migration_guard.tasks.alerts.api import ReconcileResult
from migration_guard.tasks.alerts.model import iso
from migration_guard.tasks.autorecover.model import AutoRecovery
from migration_guard.tasks.healthcheck.base import CheckResult, CheckStatus, worst

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
    #: what AUTO_RECOVER did this run (None when the run records nothing: --no-alerts, `serve`)
    auto_recover: AutoRecovery | None = None

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
        if self.auto_recover is not None:
            data["auto_recover"] = self.auto_recover.to_dict()
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

"""What the healthcheck flow publishes to Prefect, as plain data: the artifact keys, the table of
every check and the markdown of the firing alerts (``tasks.py`` only hands them to Prefect)."""

from __future__ import annotations

from typing import Any

from migration_guard.tasks.artifacts import artifact_key
from migration_guard.tasks.healthcheck.base import CheckStatus
from migration_guard.tasks.healthcheck.report import HealthReport

TABLE_PREFIX = "db-health"
ALERTS_PREFIX = "db-health-alerts"


def table_key(environment: str) -> str:
    """``db-health-<environment>``: the table artifact of every check."""
    return artifact_key(TABLE_PREFIX, environment, fallback="default")


def alerts_key(environment: str) -> str:
    """``db-health-alerts-<environment>``: the markdown artifact of the firing alerts."""
    return artifact_key(ALERTS_PREFIX, environment, fallback="default")


def table_rows(report: HealthReport) -> list[dict[str, Any]]:
    """One row per check: database, check, status, observed value, summary, duration."""
    return [{
        "database": r.database, "check": r.check, "status": r.status.value,
        "observed": "" if r.observed_value is None else f"{r.observed_value} {r.observed_unit or ''}".strip(),
        "summary": r.summary, "duration_ms": round(r.duration_ms, 1),
    } for r in report.results]


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

"""The healthcheck sequence, written once over the steps port (``steps.HealthcheckSteps``): the
CLI and `serve` run it with the plain steps, ``flows/healthcheck.py`` with the Prefect ones."""

from __future__ import annotations

import logging
from typing import Any

from migration_guard.tasks.alerts.model import utcnow
from migration_guard.tasks.healthcheck.alerts import high_alerts
from migration_guard.tasks.healthcheck.config import HealthcheckConfig, load_config, resolve_targets
from migration_guard.tasks.healthcheck.report import HealthReport
from migration_guard.tasks.healthcheck.steps import PLAIN_STEPS, HealthcheckSteps
from migration_guard.tasks.healthcheck.target import DatabaseTarget


class HealthcheckCritical(Exception):
    """Raised by the healthcheck flow when a HIGH alert is firing, so the run shows as Failed.
    ``report`` carries the run's JSON (read it with ``state.result(raise_on_failure=False).report``)."""

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report

    def __reduce__(self):  # keeps ``report`` when Prefect pickles the exception as the run's result
        return (HealthcheckCritical, (str(self), self.report))


def run_checks(targets: list[DatabaseTarget], settings: Any, config: HealthcheckConfig,
               steps: HealthcheckSteps = PLAIN_STEPS) -> HealthReport:
    """Check every database concurrently; the run as a report (no alerts recorded yet)."""
    started = utcnow()
    per_database = steps.fan_out(steps.check_database, targets, settings, config, started)
    elapsed = (utcnow() - started).total_seconds() * 1000
    return HealthReport(settings.environment, started, [r for rs in per_database for r in rs], elapsed)


def run_healthcheck(settings: Any, steps: HealthcheckSteps = PLAIN_STEPS, *, record: bool = True,
                    flow_run_url: str | None = None, logger: logging.Logger | logging.LoggerAdapter | None = None,
                    ) -> HealthReport:
    """Load HEALTHCHECK_CONFIG, check every database, then (with ``record``) fire / resolve alerts,
    append the log and store the readings in the health history, and publish the run.

    Args:
        settings: the resolved settings.
        steps: ``PLAIN_STEPS`` (CLI, `serve`) or ``tasks.healthcheck.tasks.PREFECT_STEPS`` (the flow).
        record: record alerts, write the log and the history (off for `healthcheck --no-alerts` and `serve`).
        flow_run_url: linked from the alerts (the flow's run page).
        logger: when given, every non-OK check and the verdict are logged there.

    Raises:
        ConfigError: bad HEALTHCHECK_CONFIG, or no database configured.
    """
    config = load_config(settings.healthcheck_config)
    targets = resolve_targets(settings, config)
    report = run_checks(targets, settings, config, steps)
    if record:
        report.alerts = steps.record_alerts(report, settings, targets, flow_run_url)
        steps.write_log(report, settings, targets)
        steps.record_history(report, settings, targets)
    steps.publish(report)
    if logger is not None:
        for r in report.results:
            if r.status.value != "OK":
                logger.warning("%s:%s %s: %s", r.database, r.check, r.status.value, r.summary)
        logger.info("healthcheck of %d database(s): %s in %.0f ms", len(targets), report.status.value,
                    report.duration_ms)
    return report


def critical_error(report: HealthReport) -> HealthcheckCritical | None:
    """The error that fails the flow run when HIGH alerts are firing (None when none are)."""
    high = high_alerts(report)
    if not high:
        return None
    return HealthcheckCritical(
        f"{len(high)} HIGH alert(s) firing: " + "; ".join(f"{a.database}: {a.title}" for a in high[:5]),
        report.to_dict(),
    )

"""The healthcheck sequence, written once over the steps port (``steps.HealthcheckSteps``): the
CLI and `serve` run it with the plain steps, ``flows/healthcheck.py`` with the Prefect ones."""

from __future__ import annotations

import logging
from typing import Any

from migration_guard.tasks.alerts.model import utcnow
from migration_guard.tasks.autorecover.model import DONE, FAILED, AutoRecovery
from migration_guard.tasks.healthcheck.alerts import high_alerts
from migration_guard.tasks.healthcheck.base import CheckResult, CheckStatus
from migration_guard.tasks.healthcheck.config import HealthcheckConfig, load_config, resolve_targets
from migration_guard.tasks.healthcheck.report import HealthReport
from migration_guard.tasks.healthcheck.steps import PLAIN_STEPS, HealthcheckSteps
from migration_guard.tasks.healthcheck.target import DatabaseTarget
from migration_guard.tasks.history.backend import shared_history_reads


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
    """Check every database concurrently; the run as a report (no alerts recorded yet). A
    PostgreSQL history store one database's checks are done with serves the next database's
    (``shared_history_reads``)."""
    started = utcnow()
    with shared_history_reads(settings):
        per_database = steps.fan_out(steps.check_database, targets, settings, config, started)
    elapsed = (utcnow() - started).total_seconds() * 1000
    return HealthReport(settings.environment, started, [r for rs in per_database for r in rs], elapsed)


def run_healthcheck(settings: Any, steps: HealthcheckSteps = PLAIN_STEPS, *, record: bool = True,
                    flow_run_url: str | None = None, logger: logging.Logger | logging.LoggerAdapter | None = None,
                    ) -> HealthReport:
    """Load HEALTHCHECK_CONFIG, check every database, then (with ``record``) auto-recover what
    AUTO_RECOVER allows (the databases it changed are checked again), fire / resolve alerts,
    append the log and store the readings in the health history, and publish the run.

    Args:
        settings: the resolved settings.
        steps: ``PLAIN_STEPS`` (CLI, `serve`) or ``tasks.healthcheck.tasks.PREFECT_STEPS`` (the flow).
        record: auto-recover, record alerts, write the log and the history (off for `healthcheck
            --no-alerts` and `serve`: they change nothing).
        flow_run_url: linked from the alerts (the flow's run page).
        logger: when given, every non-OK check and the verdict are logged there.

    Raises:
        ConfigError: bad HEALTHCHECK_CONFIG, or no database configured.
    """
    config = load_config(settings.healthcheck_config)
    targets = resolve_targets(settings, config)
    with shared_history_reads(settings):  # the checks read, and the record step writes, on one store connection
        report = run_checks(targets, settings, config, steps)
        if record:
            auto_recover(report, settings, targets, config, steps)
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


#: the status of an auto-recovery action's row in the report
ACTION_STATUS = {DONE: CheckStatus.OK, FAILED: CheckStatus.CRITICAL}
ACTION_CHECK = "auto_recover"


def auto_recover(report: HealthReport, settings: Any, targets: list[DatabaseTarget], config: HealthcheckConfig,
                 steps: HealthcheckSteps = PLAIN_STEPS) -> AutoRecovery:
    """AUTO_RECOVER=safe: take the safe actions (``steps.auto_recover``), check again every
    database an action changed (so the report and its alerts show the state after it), and add one
    ``auto_recover`` row per action (done OK, failed CRITICAL, skipped WARNING). ``off``: nothing is
    changed (the checks' alerts carry the commands to run). Sets and returns ``report.auto_recover``."""
    policy = settings.auto_recover
    recovery = steps.auto_recover(report, settings, targets, config) if policy == "safe" else AutoRecovery(policy)
    report.auto_recover = recovery
    changed = {a.database for a in recovery.actions if a.taken}
    fresh: dict[str, list[CheckResult]] = {}
    if changed:
        again = [t for t in targets if t.name in changed]
        rechecked = steps.fan_out(steps.check_database, again, settings, config, report.started_at)
        fresh = {target.name: results for target, results in zip(again, rechecked, strict=True)}
    results: list[CheckResult] = []
    for database in report.databases:
        results += fresh.get(database) or [r for r in report.results if r.database == database]
        results += [CheckResult(a.database, ACTION_CHECK, ACTION_STATUS.get(a.state, CheckStatus.WARNING), a.line(),
                                duration_ms=a.seconds * 1000) for a in recovery.actions if a.database == database]
    report.results = results
    return recovery


def critical_error(report: HealthReport) -> HealthcheckCritical | None:
    """The error that fails the flow run when HIGH alerts are firing (None when none are)."""
    high = high_alerts(report)
    if not high:
        return None
    return HealthcheckCritical(
        f"{len(high)} HIGH alert(s) firing: " + "; ".join(f"{a.database}: {a.title}" for a in high[:5]),
        report.to_dict(),
    )

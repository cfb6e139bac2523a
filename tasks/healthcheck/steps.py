"""The I/O steps of a healthcheck run, as plain functions (no Prefect import: the CLI and `serve`
stay fast). ``PLAIN_STEPS`` bundles them; ``tasks/healthcheck/tasks.PREFECT_STEPS`` is the same
port with the steps run as Prefect tasks. The sequence is ``workflow.run_healthcheck``."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from migration_guard.tasks.alerts.api import ReconcileResult
from migration_guard.tasks.autorecover.model import AutoRecovery
from migration_guard.tasks.healthcheck import alerts, log
from migration_guard.tasks.healthcheck.base import CheckResult, CheckStatus
from migration_guard.tasks.healthcheck.checks import connectivity, invalid_indexes, migrations, stale_migration_lock
from migration_guard.tasks.healthcheck.config import HealthcheckConfig
from migration_guard.tasks.healthcheck.report import HealthReport
from migration_guard.tasks.healthcheck.runner import check_database
from migration_guard.tasks.healthcheck.target import DatabaseTarget
from migration_guard.tasks.history.model import CHECK_PREFIX, Observation
from migration_guard.tasks.history.record import RecordResult, record_healthcheck
from migration_guard.tasks.history.store import database_key

CheckDatabase = Callable[[DatabaseTarget, Any, HealthcheckConfig, datetime], list[CheckResult]]


def check_database_step(target: DatabaseTarget, settings: Any, config: HealthcheckConfig,
                        now: datetime) -> list[CheckResult]:
    """Every check on one database. Database problems are results, not exceptions; bounded by
    CONNECT_TIMEOUT and CHECK_TIMEOUT (a task timeout would not interrupt a blocking query)."""
    return check_database(target, settings, config, now=now)


def fan_out_in_threads(check: CheckDatabase, targets: list[DatabaseTarget], settings: Any,
                       config: HealthcheckConfig, now: datetime) -> list[list[CheckResult]]:
    """``check`` on every database concurrently, one thread each (one slow database only holds its
    own thread); results in the order of ``targets``."""
    with ThreadPoolExecutor(max_workers=max(1, min(32, len(targets)))) as pool:
        return list(pool.map(lambda t: check(t, settings, config, now), targets))


def record_alerts_step(report: HealthReport, settings: Any, targets: list[DatabaseTarget],
                       flow_run_url: str | None) -> ReconcileResult:
    """Fire / update / resolve alerts and notify (a notification failure never fails this step)."""
    return alerts.record_alerts(report, settings, targets, flow_run_url)


def write_log_step(report: HealthReport, settings: Any, targets: list[DatabaseTarget]) -> str:
    """One JSON line per check in LOG_DIR/healthcheck.log; returns the file's path."""
    return str(log.write_log(report, settings, targets))


def record_history_step(report: HealthReport, settings: Any, targets: list[DatabaseTarget]) -> RecordResult:
    """Store the run's readings of every database in the health history (STATE_DIR or
    STATE_DATABASE_URL): the checks' numeric values and the collected metrics of each database that
    answered (an unreachable one has nothing to record). Never raises."""
    reachable = {r.database for r in report.results if r.check == connectivity.NAME and r.status.value in ("OK", "WARNING")}
    keys = {t.name: database_key(t.dsn) for t in targets if t.name in reachable}
    values = [Observation(keys[r.database], CHECK_PREFIX + r.check, float(r.observed_value))
              for r in report.results if r.database in keys and isinstance(r.observed_value, int | float)
              and not isinstance(r.observed_value, bool)]
    return record_healthcheck(settings, report.started_at, [t.dsn for t in targets if t.name in keys], values)


#: the checks whose problems auto-recovery repairs, and the class of each
RECOVERABLE = {stale_migration_lock.NAME: "locks", invalid_indexes.NAME: "indexes", migrations.NAME: "migrations"}


def auto_recover_step(report: HealthReport, settings: Any, targets: list[DatabaseTarget],
                      config: HealthcheckConfig) -> AutoRecovery:
    """AUTO_RECOVER=safe: on each database whose checks ran, repair the safe classes the checks found
    (a stale migration lock, INVALID indexes, a failed migration), each action alerted before and
    after (``tasks/autorecover``). A database that could not be checked is left alone."""
    from migration_guard.tasks.autorecover.run import recover_database

    recovery = AutoRecovery("safe")
    grace = config.thresholds.stale_migration_lock.total_seconds()
    for target in targets:
        results = {r.check: r for r in report.results if r.database == target.name}
        connected = results.get(connectivity.NAME)
        if connected is None or connected.status not in (CheckStatus.OK, CheckStatus.WARNING):
            continue
        if any(results[name].status is CheckStatus.UNKNOWN for name in RECOVERABLE if name in results):
            continue
        found = {kind: results.get(name) is not None and results[name].problem is not None
                 for name, kind in RECOVERABLE.items()}
        failed = results.get(migrations.NAME)
        found["migrations"] = bool(failed and failed.problem and "failed:" in failed.problem.key)
        recovery.actions += recover_database(target, settings, stale_lock_seconds=grace, **found)
    return recovery


def no_artifacts(report: HealthReport) -> list[str]:
    """Outside Prefect there is nowhere to publish: no artifact keys."""
    return []


@dataclass(frozen=True)
class HealthcheckSteps:
    """The healthcheck's steps; plain functions for the CLI and `serve`, Prefect tasks for the flow.

    Attributes:
        check_database: every check on one database.
        fan_out: runs ``check_database`` over the databases concurrently (threads, or a Prefect map).
        record_alerts: fire / update / resolve alerts for the run.
        write_log: append the run to the JSON-lines log.
        publish: publish the run (Prefect artifacts; nothing outside Prefect); returns the keys.
        record_history: store the run's readings in the health history.
        auto_recover: AUTO_RECOVER=safe: repair the safe classes the checks found.
    """

    check_database: CheckDatabase
    fan_out: Callable[[CheckDatabase, list[DatabaseTarget], Any, HealthcheckConfig, datetime], list[list[CheckResult]]]
    record_alerts: Callable[[HealthReport, Any, list[DatabaseTarget], str | None], ReconcileResult]
    write_log: Callable[[HealthReport, Any, list[DatabaseTarget]], str]
    publish: Callable[[HealthReport], list[str]]
    record_history: Callable[[HealthReport, Any, list[DatabaseTarget]], RecordResult] = record_history_step
    auto_recover: Callable[[HealthReport, Any, list[DatabaseTarget], HealthcheckConfig],
                           AutoRecovery] = auto_recover_step


PLAIN_STEPS = HealthcheckSteps(check_database_step, fan_out_in_threads, record_alerts_step, write_log_step,
                               no_artifacts, record_history_step, auto_recover_step)

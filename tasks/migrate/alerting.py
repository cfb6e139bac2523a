"""The safe-migrate alert: fired on a failed run (with the exact recovery commands and the backup
to restore), resolved by the next successful one."""

from __future__ import annotations

import logging
from typing import Any

from migration_guard.tasks.alerts.api import fire_alert, resolve_alerts
from migration_guard.tasks.migrate.report import SafeMigrateReport
from migration_guard.tasks.settings import Settings

_log = logging.getLogger("migration_guard.migrate")

#: the alert's check label (part of its fingerprint: never change it)
ALERT_CHECK = "safe-migrate"


def alert_outcome(settings: Settings, report: SafeMigrateReport, *, flow_run_url: str | None = None,
                  logger: Any | None = None) -> None:
    """Fire the safe-migrate alert on failure, resolve it on success.

    An alerting failure (full disk, notifier down) becomes a warning log line: it must not hide
    the migration's outcome.
    """
    log = logger or _log
    try:
        if report.ok:
            resolve_alerts(settings, check=ALERT_CHECK, database=report.target)
            return
        partial = report.committed or any(
            not m.get("ok") and m.get("mode") != "transaction" for m in (report.apply or {}).get("migrations", []))
        fire_alert(
            settings, check=ALERT_CHECK, database=report.target,
            category=report.error_category or "DATABASE_MIGRATION",
            severity="HIGH" if partial else "MEDIUM",
            title=f"safe-migrate failed at {report.failed_stage} on {report.target}",
            message=report.error,
            impact=(_lost_connection_impact(report) if report.lost_connection else
                    "migrations were committed before the failure: the application may run against a changed schema"
                    if report.committed else
                    "a migration stopped midway (resumable); the deploy is blocked until it completes" if partial else
                    "nothing was changed by the failed step; the deploy is blocked until it is fixed"),
            suggestions=[*report.recovery, *report.rollback_choices],
            original_error=report.error, component="safe-migrate", flow_run_url=flow_run_url,
        )
    except Exception as exc:  # noqa: BLE001 - an alerting failure must not hide the migration outcome
        log.warning("could not record the safe-migrate alert: %s", exc)


def _lost_connection_impact(report: SafeMigrateReport) -> str:
    """The impact of a run that lost its connection: what committed, what was in flight."""
    lost = report.lost_connection or {}
    committed = lost.get("committed") or []
    before = (f"committed before the connection was lost: {', '.join(committed)} (the application may run against "
              "a changed schema)" if committed else "no migration of this run had committed")
    if not lost.get("ledger_read"):
        before += "; the ledger could not be re-read, so run `migration-guard status` to confirm"
    flight = lost.get("in_flight")
    return (f"the connection was lost while applying {flight}; " if flight else "the connection was lost; ") + before + \
        "; re-running migrate resumes"

"""Alert lifecycle decisions on plain data (Alertmanager's model): no I/O here.

- a new problem creates a firing alert and notifies;
- the same problem seen again (same fingerprint, still firing) updates last_seen/occurrences and
  notifies only when the severity went up or ``repeat_interval`` passed since the last notification;
- a different problem under the same fingerprint (another ``problem`` key: "Migration X failed"
  becoming "Migration Y pending") resolves the firing alert and fires a new one, so the record of
  what happened is never rewritten;
- a problem that went away resolves the alert and notifies once;
- resolved alerts older than the retention are deleted by the maintenance flow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from migration_guard.tasks.alerts.model import Alert, AlertStatus

DEFAULT_REPEAT_INTERVAL = timedelta(hours=4)
RESOLVED_RETENTION = timedelta(hours=24)


class Event(StrEnum):
    """Why a notification goes out (None of these = stay quiet)."""

    NEW = "new"
    ESCALATED = "escalated"
    REMINDER = "reminder"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Decision:
    """The alert to store, and the notification event to send (None = no notification)."""

    alert: Alert
    event: Event | None


def observe(existing: Alert | None, observed: Alert, now: datetime,
            repeat_interval: timedelta = DEFAULT_REPEAT_INTERVAL) -> Decision:
    """Merge a newly observed problem into the firing alert with the same fingerprint (if any)."""
    if existing is None or not existing.is_firing:
        return Decision(observed.with_changes(first_seen=now, last_seen=now, timestamp=now), Event.NEW)
    updated = existing.with_changes(
        last_seen=now,
        occurrences=existing.occurrences + 1,
        severity=observed.severity,
        title=observed.title,
        message=observed.message,
        impact=observed.impact,
        suggestions=observed.suggestions,
        original_error=observed.original_error,
        environment=observed.environment,
        component=observed.component,
        flow_run_url=observed.flow_run_url or existing.flow_run_url,
    )
    if observed.severity.rank > existing.severity.rank:
        return Decision(updated, Event.ESCALATED)
    if existing.last_notified_at is None or now - existing.last_notified_at >= repeat_interval:
        return Decision(updated, Event.REMINDER if existing.last_notified_at else Event.NEW)
    return Decision(updated, None)


def is_another_problem(existing: Alert, observed: Alert) -> bool:
    """True when ``observed`` is not the firing alert's problem seen again: both name their problem
    (``problem``) and the names differ. A severity change alone is the same problem, updated."""
    return bool(existing.problem and observed.problem and existing.problem != observed.problem)


def resolve(existing: Alert, now: datetime) -> Decision:
    """Resolve a firing alert (already resolved alerts are left as they are, no notification)."""
    if not existing.is_firing:
        return Decision(existing, None)
    return Decision(existing.with_changes(status=AlertStatus.RESOLVED, resolved_at=now, last_seen=now), Event.RESOLVED)


def mark_notified(alert: Alert, now: datetime) -> Alert:
    """The alert after a notification went out on every configured channel."""
    return alert.with_changes(last_notified_at=now)


def expired(alerts: Iterable[Alert], now: datetime, retention: timedelta = RESOLVED_RETENTION) -> list[Alert]:
    """Resolved alerts whose resolution is older than ``retention`` (to delete)."""
    return [a for a in alerts if a.status is AlertStatus.RESOLVED and a.resolved_at is not None
            and now - a.resolved_at >= retention]


def firing_by_fingerprint(alerts: Iterable[Alert]) -> dict[str, Alert]:
    """The firing alert of each fingerprint (the most recent if, unexpectedly, several)."""
    found: dict[str, Alert] = {}
    for alert in sorted(alerts, key=lambda a: a.first_seen or a.timestamp):
        if alert.is_firing:
            found[alert.fingerprint] = alert
    return found

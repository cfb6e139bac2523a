"""What flows call: fire an alert, resolve alerts, reconcile a whole healthcheck run.

Each call stores the alert (one JSON file, atomic), applies the lifecycle (dedup by fingerprint,
notify on new / escalation / reminder / resolution) and notifies Slack and the webhook when
configured. A notification failure is logged and never raises; the alert is stored regardless,
and a notification that did not go out is retried by the next observation.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from migration_guard.tasks.alerts.lifecycle import (
    Decision,
    firing_by_fingerprint,
    is_another_problem,
    mark_notified,
    observe,
    resolve,
)
from migration_guard.tasks.alerts.model import Alert, new_alert, utcnow
from migration_guard.tasks.alerts.notify import NotifyOutcome, notify
from migration_guard.tasks.alerts.store import AlertStore
from migration_guard.tasks.errors import Category
from migration_guard.tasks.secrets import passwords_in, redact

logger = logging.getLogger("migration_guard.alerts")


@dataclass
class ReconcileResult:
    """What one reconciliation did: alerts now firing, alerts resolved, notifications sent."""

    firing: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    notified: list[tuple[str, str]] = field(default_factory=list)  # (alert id, event)
    failed_notifications: dict[str, dict[str, str]] = field(default_factory=dict)
    corrupt_files: list[str] = field(default_factory=list)
    #: alert id -> why its file could not be written (disk full, read-only folder); the alert is still
    #: notified and reported, and the next run that can write saves it
    unsaved: dict[str, str] = field(default_factory=dict)


def store_for(settings: Any) -> AlertStore:
    return AlertStore(settings.alerts_dir)


def settings_secrets(settings: Any) -> list[str]:
    """Every secret the settings carry (DSN passwords, tokens, webhook URLs), to redact from text."""
    secrets: list[str] = []
    if getattr(settings, "database_url", None) is not None:
        secrets.extend(passwords_in(settings.database_url.get_secret_value()))
    for name in ("slack_webhook_url", "slack_bot_token", "alert_webhook_url", "alerts_api_token"):
        value = getattr(settings, name, None)
        if value is not None:
            secrets.append(value.get_secret_value())
    return secrets


def fire_alert(
    settings: Any,
    *,
    check: str,
    database: str,
    category: Category | str,
    severity: str,
    title: str,
    message: str,
    impact: str,
    suggestions: list[str],
    original_error: str = "",
    component: str,
    flow_run_url: str | None = None,
    extra_secrets: Iterable[str] = (),
    problem: str = "",
) -> Alert:
    """Record that a problem is happening now; notify when the lifecycle says so.

    Args:
        settings: Settings (ALERTS_DIR, ENVIRONMENT, channels, ALERT_REPEAT_INTERVAL).
        check: what detected it (``migrations``, ``safe-migrate``, ``connectivity`` ...): identity.
        database: which database (host:port/dbname or a configured name, no password): identity.
        category: Category (DATABASE_MIGRATION, DATABASE_CONNECTION ...): identity.
        severity: HIGH | MEDIUM | LOW.
        title, message, impact, suggestions: what people read; suggestions are exact commands.
        original_error: technical detail (redacted of every known secret).
        component: e.g. ``healthcheck``, ``safe-migrate``.
        flow_run_url: link to the Prefect flow run, if any.
        problem: which problem this is beyond check/database/category (a change resolves the
            firing alert and fires a new one).
        extra_secrets: more literals to redact (e.g. passwords of other DSNs).

    Returns:
        The stored alert (new, or the existing firing one updated).
    """
    secrets = settings_secrets(settings) + list(extra_secrets)
    observed = _observed(settings, secrets, check=check, database=database, category=category,
                         severity=severity, title=title, message=message, impact=impact,
                         suggestions=suggestions, original_error=original_error, component=component,
                         flow_run_url=flow_run_url, problem=problem)
    result = reconcile(settings, [observed], checked=(), secrets=secrets)
    return result.firing[0]


def resolve_alerts(settings: Any, *, check: str, database: str) -> list[Alert]:
    """Resolve every firing alert of ``check`` on ``database`` (any category); notify each once."""
    result = reconcile(settings, [], checked=[(check, database)], secrets=settings_secrets(settings))
    return result.resolved


def reconcile(
    settings: Any,
    observed: list[Alert],
    checked: Iterable[tuple[str, str]],
    *,
    secrets: list[str] | None = None,
    now: datetime | None = None,
) -> ReconcileResult:
    """Apply one run's observations: ``observed`` problems fire; firing alerts of a
    (check, database) in ``checked`` that were not observed again are resolved.

    Checks that could not run (UNKNOWN) must be left out of ``checked``: their alerts stay as
    they are. Notifications go out after the store is updated, outside the folder lock.
    """
    now = now or utcnow()
    store = store_for(settings)
    repeat = timedelta(seconds=getattr(settings, "alert_repeat_interval", 4 * 3600))
    result = ReconcileResult()
    to_notify: list[Decision] = []
    scope = set(checked)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(store.locked())
        except OSError as exc:  # read-only or full folder: decide and notify anyway, save nothing
            logger.warning("alert folder %s cannot be locked (%s); alerts are not saved this run",
                           store.directory, exc.strerror or exc)
        loaded = store.load()
        result.corrupt_files = loaded.corrupt
        firing = firing_by_fingerprint(loaded.alerts)
        seen: set[str] = set()
        for alert in observed:
            if alert.fingerprint in seen:
                continue
            seen.add(alert.fingerprint)
            existing = firing.get(alert.fingerprint)
            if existing is not None and is_another_problem(existing, alert):
                superseded = resolve(existing, now)
                _save(store, superseded.alert, result)
                result.resolved.append(superseded.alert)
                if superseded.event is not None:
                    to_notify.append(superseded)
                existing = None
            decision = observe(existing, alert, now, repeat)
            _save(store, decision.alert, result)
            result.firing.append(decision.alert)
            if decision.event is not None:
                to_notify.append(decision)
        for alert in firing.values():
            if alert.fingerprint not in seen and (alert.check, alert.database) in scope:
                decision = resolve(alert, now)
                _save(store, decision.alert, result)
                result.resolved.append(decision.alert)
                if decision.event is not None:
                    to_notify.append(decision)
    for decision in to_notify:
        outcome = _notify(settings, decision, secrets or [])
        if outcome.delivered:
            updated = _record_notified(store, decision.alert, now)
            _replace(result, updated)
            result.notified.append((decision.alert.id, decision.event.value))
        elif set(outcome.failed) - {"none"}:
            # no channel configured is not a failed delivery (alert files only); the alert stays
            # un-notified, so a channel added later gets it on its next run
            result.failed_notifications[decision.alert.id] = outcome.failed
    return result


def _notify(settings: Any, decision: Decision, secrets: list[str]) -> NotifyOutcome:
    assert decision.event is not None
    return notify(settings, decision.alert, decision.event, secrets)


def _record_notified(store: AlertStore, alert: Alert, now: datetime) -> Alert:
    try:
        with store.locked():
            current = store.get(alert.id) or alert
            updated = mark_notified(current, now)
            store.save(updated)
    except OSError as exc:  # the notification went out; only its timestamp is not kept
        logger.warning("alert %s: notification time not saved (%s)", alert.id, exc.strerror or exc)
        return mark_notified(alert, now)
    return updated


def _save(store: AlertStore, alert: Alert, result: ReconcileResult) -> None:
    """Save ``alert``; a full or read-only folder is recorded in ``result.unsaved``, never raised
    (the old file, if any, stays intact: saves are atomic)."""
    try:
        store.save(alert)
    except OSError as exc:
        result.unsaved[alert.id] = f"{store.directory}: {exc.strerror or exc}"
        logger.warning("alert %s not saved in %s (%s); the next run saves it", alert.id, store.directory,
                       exc.strerror or exc)


def _replace(result: ReconcileResult, updated: Alert) -> None:
    for bucket in (result.firing, result.resolved):
        for index, alert in enumerate(bucket):
            if alert.id == updated.id:
                bucket[index] = updated


def _observed(settings: Any, secrets: list[str], **fields: Any) -> Alert:
    def clean(text: str) -> str:
        return redact(text, secrets)

    return new_alert(
        check=fields["check"],
        database=clean(fields["database"]),
        category=fields["category"],
        severity=fields["severity"],
        title=clean(fields["title"]),
        message=clean(fields["message"]),
        impact=clean(fields["impact"]),
        suggestions=[clean(s) for s in fields["suggestions"]],
        original_error=clean(fields["original_error"]),
        environment=settings.environment,
        component=fields["component"],
        flow_run_url=fields["flow_run_url"],
        problem=clean(fields.get("problem") or ""),
    )


def observed_alert(settings: Any, secrets: list[str], **fields: Any) -> Alert:
    """A redacted, not yet stored alert (for :func:`reconcile` batches). Same keywords as fire_alert."""
    fields.setdefault("original_error", "")
    fields.setdefault("flow_run_url", None)
    return _observed(settings, secrets, **fields)


def list_alerts(settings: Any, *, include_resolved: bool = False) -> tuple[list[Alert], list[str]]:
    """(alerts, corrupt files set aside); firing only unless ``include_resolved``."""
    loaded = store_for(settings).load()
    alerts = loaded.alerts if include_resolved else [a for a in loaded.alerts if a.is_firing]
    return alerts, loaded.corrupt


def resolve_alert_by_id(settings: Any, alert_id: str) -> Alert | None:
    """Resolve one alert by hand (notifies the resolution). None when there is no such alert;
    an already resolved alert is returned unchanged."""
    store = store_for(settings)
    now = utcnow()
    with store.locked():
        alert = store.get(alert_id)
        if alert is None:
            return None
        decision = resolve(alert, now)
        if decision.event is None:
            return alert
        store.save(decision.alert)
    outcome = notify(settings, decision.alert, decision.event, settings_secrets(settings))
    return _record_notified(store, decision.alert, now) if outcome.delivered else decision.alert


def delete_alerts(settings: Any, *, include_firing: bool = False) -> list[str]:
    """Delete resolved alert files (every alert file with ``include_firing``); return their ids."""
    store = store_for(settings)
    with store.locked():
        doomed = [a for a in store.load().alerts if include_firing or not a.is_firing]
        return [a.id for a in doomed if store.delete(a.id)]


def delete_alert(settings: Any, alert_id: str) -> bool:
    """Delete one alert file; False when there is none with that id."""
    store = store_for(settings)
    with store.locked():
        return store.delete(alert_id)


def delete_expired_alerts(settings: Any, *, retention: timedelta = timedelta(hours=24),
                          now: datetime | None = None) -> list[str]:
    """Delete alerts resolved more than ``retention`` ago (the maintenance flow's job)."""
    from migration_guard.tasks.alerts.lifecycle import expired

    store = store_for(settings)
    with store.locked():
        doomed = expired(store.load().alerts, now or utcnow(), retention)
        return [a.id for a in doomed if store.delete(a.id)]

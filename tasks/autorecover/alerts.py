"""The alerts of auto-recovery actions: one alert per action and object (its own fingerprint, so
the healthcheck's reconciliation never touches it), through the usual lifecycle.

- before: fired MEDIUM, "about to …" (a NEW notification);
- done: updated to what was done, then resolved (the RESOLVED notification says it);
- failed: escalated to HIGH with the error and the command to run by hand (an ESCALATED
  notification); it stays firing, and while it fires the action is not tried again;
- an action whose problem is gone (fixed by hand) has its firing alert resolved.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from migration_guard.tasks.alerts.api import fire_alert, list_alerts, reconcile, resolve_alerts, settings_secrets
from migration_guard.tasks.alerts.model import Alert
from migration_guard.tasks.autorecover.model import DONE, FAILED, Action
from migration_guard.tasks.errors import Category
from migration_guard.tasks.secrets import passwords_in

CHECK_PREFIX = "auto_recover/"
COMPONENT = "auto-recover"
_IMPACT = ("migration-guard is repairing this on its own (AUTO_RECOVER=safe); nothing is needed from you "
           "unless the follow-up says it failed.")


def alert_check(action: Action) -> str:
    """The ``check`` label of the action's alert (``auto_recover/<kind>/<subject>``)."""
    return CHECK_PREFIX + action.key


def earlier_failure(settings: Any, action: Action) -> Alert | None:
    """The firing alert of this very action when an earlier run tried it and failed (None otherwise)."""
    firing, _ = list_alerts(settings)
    check = alert_check(action)
    return next((a for a in firing if a.check == check and a.database == action.database
                 and a.severity.value == "HIGH"), None)


def alert_before(settings: Any, action: Action, dsn: str) -> Alert:
    """Fire "about to …" for ``action`` (MEDIUM); returns the stored alert."""
    alert = fire_alert(
        settings, check=alert_check(action), database=action.database, category=Category.DATABASE_MIGRATION,
        severity="MEDIUM", title=f"Auto-recovery on {action.database}: about to {action.description}",
        message=f"AUTO_RECOVER=safe: about to {action.description}.", impact=_IMPACT,
        suggestions=list(action.commands), component=COMPONENT, extra_secrets=passwords_in(dsn),
        problem=action.key,
    )
    action.alerts.append(alert.id)
    return alert


def alert_after(settings: Any, action: Action, dsn: str) -> Alert:
    """Done (or found not needed): the alert says what was done and resolves. Failed: it escalates
    to HIGH with the error and the command to run by hand, and stays firing. Returns the stored alert."""
    secrets = passwords_in(dsn)
    check = alert_check(action)
    if action.state == FAILED:
        alert = fire_alert(
            settings, check=check, database=action.database, category=Category.DATABASE_MIGRATION, severity="HIGH",
            title=f"Auto-recovery on {action.database} failed: could not {action.description}",
            message=f"AUTO_RECOVER=safe tried to {action.description} and failed: {action.detail}",
            impact="The problem it was meant to repair is still there; it is not tried again while this alert fires.",
            suggestions=list(action.commands), component=COMPONENT, extra_secrets=secrets, problem=action.key,
        )
    else:
        what = "done" if action.state == DONE else "nothing done"
        fire_alert(settings, check=check, database=action.database, category=Category.DATABASE_MIGRATION,
                   severity="MEDIUM", title=f"Auto-recovery on {action.database}: {what}: {action.description}",
                   message=f"AUTO_RECOVER=safe: {action.description}: {action.detail}", impact=_IMPACT,
                   suggestions=list(action.commands), component=COMPONENT, extra_secrets=secrets, problem=action.key)
        alert = resolve_alerts(settings, check=check, database=action.database)[0]
    if alert.id not in action.alerts:
        action.alerts.append(alert.id)
    return alert


def resolve_gone(settings: Any, database: str, still_there: Iterable[Action]) -> list[Alert]:
    """Resolve the firing auto-recovery alerts of ``database`` whose action is not among
    ``still_there`` (its problem went away, e.g. fixed by hand); returns them."""
    keep = {alert_check(a) for a in still_there}
    firing, _ = list_alerts(settings)
    gone = {(a.check, a.database) for a in firing
            if a.check.startswith(CHECK_PREFIX) and a.database == database and a.check not in keep}
    if not gone:
        return []
    return reconcile(settings, [], checked=gone, secrets=settings_secrets(settings)).resolved

"""Auto-recovery of one watched database: the safe classes in order (locks, indexes, the failed
migration, then the failed migration's own INVALID index when it stays failed), each action
alerted before and after. Plain Python; the healthcheck calls it under ``AUTO_RECOVER=safe``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import psycopg

from migration_guard.tasks.alerts.model import utcnow
from migration_guard.tasks.autorecover import alerts
from migration_guard.tasks.autorecover.model import DONE, FAILED, SKIPPED, Action, WatchedDatabase, error_text
from migration_guard.tasks.durations import format_duration
from migration_guard.tasks.errors import MigrationGuardError

logger = logging.getLogger("migration_guard.autorecover")
APPLICATION_NAME = "migration-guard auto-recover"


def project_for(settings: Any, database: WatchedDatabase) -> Any:
    """The Project of a watched database with a migrations folder (its URL, folder, tool, schema);
    None without a folder.

    Raises:
        ConfigError: the folder or tool does not resolve (as for the migrations check).
    """
    from pydantic import SecretStr

    from migration_guard.tasks.project import Project

    if database.migrations_dir is None:
        return None
    update: dict[str, Any] = {"database_url": SecretStr(database.dsn), "migrations_dir": database.migrations_dir}
    if database.migration_tool:
        update["migration_tool"] = database.migration_tool
    if database.schema:
        update["db_schema"] = database.schema
    return Project.from_settings(settings.model_copy(update=update))


def recover_database(database: WatchedDatabase, settings: Any, *, stale_lock_seconds: float, locks: bool = True,
                     indexes: bool = True, migrations: bool = True) -> list[Action]:
    """Take every safe auto-recovery action on ``database``; the actions looked at, in order.

    Args:
        database: the watched database (``DatabaseTarget``).
        settings: the resolved settings (alerts, timeouts, backups).
        stale_lock_seconds: the grace period of an idle migration-lock holder (the healthcheck's
            ``stale_migration_lock`` threshold).
        locks / indexes / migrations: which classes to look at (the healthcheck passes the ones
            its checks found a problem for).

    Never raises for a database problem: an action that cannot be taken is failed or skipped.
    Firing alerts of earlier actions whose problem is gone are resolved.
    """
    actions: list[Action] = []
    try:
        if (locks or indexes or migrations) and not _recover(database, settings, stale_lock_seconds, locks, indexes,
                                                             migrations, actions):
            return actions  # a migration is running: nothing was looked at
    except MigrationGuardError as exc:  # e.g. the database went away between the checks and now
        logger.warning("auto-recovery of %s stopped: %s", database.name, exc.message)
        return actions
    alerts.resolve_gone(settings, database.name, actions)
    return actions


def _recover(database: WatchedDatabase, settings: Any, stale_lock_seconds: float, locks: bool, indexes: bool,
             migrations: bool, actions: list[Action]) -> bool:
    """Append each action looked at to ``actions`` (so those taken survive an error later on);
    False when a migration is running and nothing was looked at."""
    from migration_guard.tasks.autorecover import indexes as index_class
    from migration_guard.tasks.autorecover import locks as lock_class
    from migration_guard.tasks.catalog import invalid_indexes
    from migration_guard.tasks.db import connection
    from migration_guard.tasks.models import State
    from migration_guard.tasks.status.pipeline import read_status

    project = project_for(settings, database)
    report = read_status(project) if project is not None else None
    if report is not None and report.running:
        return False  # a migration is being applied: nothing is debris, nothing is stale
    failed = report.by_state(State.FAILED) if report is not None else []
    deferred = []
    with connection(database.dsn, connect_timeout=settings.connect_timeout, application_name=APPLICATION_NAME) as conn:
        if locks:
            for stale in lock_class.stale_holders(conn, stale_lock_seconds):
                action = lock_class.action_for(database.name, stale)
                _act(settings, database, action, lambda a=action, s=stale: lock_class.terminate(conn, s, a))
                actions.append(action)
        debris = [i for i in invalid_indexes(conn) if not i.being_built] if indexes else []
    if project is not None:
        debris = [i for i in debris if i.schema == project.schema]
    for index in debris:
        origin = index_class.origin_of(index, report.statuses, project.schema) if report is not None else None
        if origin is not None and failed and origin.migration == failed[0].name:
            deferred.append((index, origin))  # the failed migration's own: recover's plan handles it
            continue
        action = index_class.action_for(database.name, index, origin, migrations_known=project is not None)
        if action.state != SKIPPED or not action.detail:
            _act(settings, database, action, lambda a=action, i=index, o=origin: index_class.repair(project, i, o, a))
        actions.append(action)
    recovered = None
    if migrations and failed and project is not None:
        recovered = _recover_migration(project, failed[0], database, settings, stale_lock_seconds)
        if recovered is not None:
            actions.append(recovered)
    if recovered is None or recovered.state != DONE:
        for index, origin in deferred:  # the failed migration stays failed: its INVALID index is debris
            drop = index_class.action_for(database.name, index, origin)
            drop.description = (f"drop the INVALID index {drop.subject.removeprefix('index ')} on {index.table} "
                                f"concurrently (left by the failed migration {origin.migration}, which is not applied)")
            _act(settings, database, drop, lambda a=drop, i=index, o=origin: index_class.repair(project, i, o, a))
            actions.append(drop)
    return True


def _recover_migration(project: Any, failed: Any, database: WatchedDatabase, settings: Any,
                       stale_lock_seconds: float) -> Action | None:
    """The failed-migration class, remembering an attempt it left alone (``memory``): the same
    unchanged attempt is not diagnosed again before AUTO_RECOVER_RECHECK."""
    from migration_guard.tasks.autorecover import memory
    from migration_guard.tasks.autorecover import migrations as migration_class

    key, now = memory.attempt_key(failed), utcnow()
    earlier = memory.left_alone(settings, database.name, key, now)
    if earlier is not None:
        when, action = earlier
        action.detail += (f" (diagnosed {format_duration(now - when)} ago; again after AUTO_RECOVER_RECHECK="
                          f"{settings.auto_recover_recheck:g}s, or at once when its file or ledger row changes)")
        return action
    action = migration_class.recover_failed(
        project, failed, database.name, stale_lock_seconds=stale_lock_seconds,
        before=lambda a: alerts.alert_before(settings, a, database.dsn),
        after=lambda a: alerts.alert_after(settings, a, database.dsn),
        earlier_failure=lambda a: alerts.earlier_failure(settings, a) is not None)
    left = action is not None and action.state == SKIPPED
    memory.remember(settings, database.name, key if left else None, action if left else None, now)
    return action


def _act(settings: Any, database: WatchedDatabase, action: Action, work: Callable[[], None]) -> None:
    """Alert "about to …", run ``work`` (it sets the action's state), alert how it went. An error
    fails the action (alerted) instead of stopping the run; an action that failed on an earlier
    run is not tried again."""
    if not _take(settings, database, action):
        return
    try:
        work()
    except (MigrationGuardError, psycopg.Error) as exc:
        action.state = FAILED
        action.detail = error_text(exc)
    alerts.alert_after(settings, action, database.dsn)


def _take(settings: Any, database: WatchedDatabase, action: Action) -> bool:
    """True when ``action`` may run now: it did not fail on an earlier run (its alert still fires);
    then "about to …" is alerted. False leaves it skipped with the reason."""
    if alerts.earlier_failure(settings, action) is not None:
        action.state = SKIPPED
        action.detail = "not tried again: an earlier auto-recovery of it failed (see its alert); do it by hand"
        return False
    alerts.alert_before(settings, action, database.dsn)
    return True

"""Class 1: a migration advisory lock (Prisma's ``pg_advisory_lock(72707369)`` or ours) held by an
idle session past the ``stale_migration_lock`` threshold → terminate that session.

Never: a session running something (``active``), a session whose state this role cannot see, our
own migrate's lock session while its applying session is connected (it holds the lock idle on
purpose), or anything while the status shows a migration running.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg

from migration_guard.tasks.autorecover.model import DONE, FAILED, TERMINATE_LOCK_HOLDER, Action, error_text
from migration_guard.tasks.catalog import SessionInfo, advisory_lock_holders, migration_sessions
from migration_guard.tasks.checks.fixes import terminate_backend
from migration_guard.tasks.durations import format_duration
from migration_guard.tasks.ledgers.prisma import PRISMA_LOCK_KEY
from migration_guard.tasks.ledgers.sqldir import SQL_DIR_LOCK_KEY
from migration_guard.tasks.status.inflight import OWN_APPLY_APPLICATION, OWN_LOCK_APPLICATION

LOCK_KEYS = {"prisma": PRISMA_LOCK_KEY, "migration-guard": SQL_DIR_LOCK_KEY}
#: states of a session doing nothing (pg_stat_activity.state); NULL (not visible) is never one
IDLE_STATES = frozenset({"idle", "idle in transaction", "idle in transaction (aborted)"})


@dataclass(frozen=True)
class StaleHolder:
    """An idle session holding a migration lock, and for how long it has done nothing."""

    owner: str
    key: int
    session: SessionInfo
    idle_seconds: float


def stale_holders(conn: psycopg.Connection, grace_seconds: float) -> list[StaleHolder]:
    """Sessions holding a migration lock idle for at least ``grace_seconds``, safe to terminate
    (the rules of the module docstring; the caller checks that no migration is running)."""
    now = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    found = []
    for owner, key in LOCK_KEYS.items():
        holders = advisory_lock_holders(conn, key)
        if not holders:
            continue
        applying = any(s.application_name == OWN_APPLY_APPLICATION for s in migration_sessions(conn, key))
        for holder in holders:
            if holder.state not in IDLE_STATES or holder.state_change is None:
                continue
            if holder.application_name == OWN_LOCK_APPLICATION and applying:
                continue
            idle = (now - holder.state_change).total_seconds()
            if idle >= grace_seconds:
                found.append(StaleHolder(owner, key, holder, idle))
    return found


def action_for(database: str, stale: StaleHolder) -> Action:
    """The action that ends ``stale`` (not taken yet)."""
    s = stale.session
    return Action(
        database, TERMINATE_LOCK_HOLDER, f"pid {s.pid}",
        f"terminate pid {s.pid} (user {s.usename or '?'}, application {s.application_name or '?'!r}, {s.state}) "
        f"holding the {stale.owner} migration lock pg_advisory_lock({stale.key}) while idle for "
        f"{format_duration(stale.idle_seconds)}",
        (terminate_backend(s.pid),),
    )


def terminate(conn: psycopg.Connection, stale: StaleHolder, action: Action, wait_seconds: float = 5.0) -> None:
    """End the session if it still holds the lock idle, and wait until the lock is free; sets the
    action's state and detail (never raises for a database error)."""
    from migration_guard.tasks.recover.execute import terminate_stale_holders

    started = time.perf_counter()
    pid = stale.session.pid
    try:
        ended = terminate_stale_holders(conn, stale.key, [pid])
        still = [h for h in advisory_lock_holders(conn, stale.key) if h.pid == pid]
    except psycopg.Error as exc:
        action.state, action.detail = FAILED, f"pg_terminate_backend({pid}) failed: {error_text(exc)}"
    else:
        if still:
            action.state = FAILED
            action.detail = (f"pid {pid} still holds the lock after {wait_seconds:.0f} s" if ended else
                             f"pid {pid} was not terminated: it is no longer idle ({still[0].state})")
        elif ended:
            action.state, action.detail = DONE, f"pid {pid} terminated; the migration lock is free"
        else:
            action.state, action.detail = DONE, f"pid {pid} had already released the lock; nothing to end"
    action.seconds = time.perf_counter() - started

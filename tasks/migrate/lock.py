"""The migration tool's advisory lock, taken with a bounded wait on a dedicated session.

Prisma takes ``pg_advisory_lock(72707369)`` while it migrates; taking the same key makes
migration-guard and Prisma (and two migration-guard runs) exclude each other. We poll
``pg_try_advisory_lock`` instead of blocking in ``pg_advisory_lock`` so the wait is bounded and,
when it runs out, the error names who holds the lock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg

from migration_guard.tasks import interrupts
from migration_guard.tasks.catalog import SessionInfo, advisory_lock_holders
from migration_guard.tasks.errors import Category, MigrationGuardError


class MigrationLockError(MigrationGuardError):
    """The migration lock stayed held by another session for the whole wait.

    Attributes:
        key: the advisory lock key.
        waited_s: how long we waited.
        holders: the sessions holding the lock when we gave up (may be empty if it was just released).
    """

    category = Category.DATABASE_MIGRATION

    def __init__(self, key: int, waited_s: float, holders: list[SessionInfo]) -> None:
        who = "; ".join(h.describe() for h in holders) if holders else "a session that has since released it"
        super().__init__(
            f"the migration lock (pg_advisory_lock({key})) is held by {who}; gave up after {waited_s:.1f}s",
            "wait for that migration to finish and re-run; if the holder is stuck, end it with "
            f"SELECT pg_terminate_backend({holders[0].pid if holders else '<pid>'})",
        )
        self.key = key
        self.waited_s = waited_s
        self.holders = holders


@dataclass
class LockAcquisition:
    """What taking the lock cost: seconds waited, and who held it while we waited."""

    key: int
    waited_s: float = 0.0
    attempts: int = 0
    seen_holders: list[str] = field(default_factory=list)


def try_advisory_lock(conn: psycopg.Connection, key: int) -> bool:
    """One non-blocking attempt at the session-level advisory lock ``key``."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s::bigint)", (key,)).fetchone()
    return bool(row and row[0])


def release_advisory_lock(conn: psycopg.Connection, key: int) -> bool:
    """Release the session-level advisory lock ``key``; False when this session did not hold it."""
    row = conn.execute("SELECT pg_advisory_unlock(%s::bigint)", (key,)).fetchone()
    return bool(row and row[0])


@contextmanager
def migration_lock(
    conn: psycopg.Connection, key: int, wait_s: float, *, poll_interval_s: float = 0.1
) -> Iterator[LockAcquisition]:
    """Hold the migration advisory lock ``key`` on ``conn`` for the ``with`` block.

    ``conn`` should be a dedicated autocommit session: the lock belongs to the session, survives
    transactions on it, and is released on exit (or when the session ends).

    Args:
        conn: an open connection (autocommit recommended).
        key: the tool's lock key (``ledger.lock_key``; Prisma 72707369).
        wait_s: how long to keep trying before giving up (0 = one attempt).
        poll_interval_s: first pause between attempts; it grows to 1 s.

    Yields:
        LockAcquisition: how long we waited and who held the lock meanwhile.

    Raises:
        MigrationLockError: still held after ``wait_s``; names the holder (pid, application,
            client address, since when, query).
    """
    acquisition = LockAcquisition(key=key)
    started = time.monotonic()
    pause = poll_interval_s
    while True:
        acquisition.attempts += 1
        if try_advisory_lock(conn, key):
            break
        waited = time.monotonic() - started
        if acquisition.attempts == 1:
            acquisition.seen_holders = [h.describe() for h in advisory_lock_holders(conn, key)]
        if waited >= wait_s:
            raise MigrationLockError(key, waited, advisory_lock_holders(conn, key))
        time.sleep(min(pause, max(0.0, wait_s - waited)))
        pause = min(pause * 1.5, 1.0)
    acquisition.waited_s = time.monotonic() - started
    try:
        yield acquisition
    finally:
        if not conn.closed:
            try:
                if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE and not conn.autocommit:
                    conn.rollback()
                released = release_advisory_lock(conn, key)
            except psycopg.Error:
                released = True  # the session is gone, and its lock with it
            if released and interrupts.received() is not None:
                interrupts.note_undone(f"released the migration lock pg_advisory_lock({key})")

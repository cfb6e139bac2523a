"""The migration lock: the tool's advisory lock with a bounded wait and an error naming the holder."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from migration_guard.tasks.catalog import advisory_lock_holders
from migration_guard.tasks.ledgers.prisma import PRISMA_LOCK_KEY
from migration_guard.tasks.migrate.lock import MigrationLockError, migration_lock


def _session(db_url: str, app: str) -> psycopg.Connection:
    return psycopg.connect(db_url, autocommit=True, application_name=app)


def test_lock_is_taken_and_released(db_url: str, db: psycopg.Connection) -> None:
    with _session(db_url, "mg-test") as conn:
        with migration_lock(conn, PRISMA_LOCK_KEY, wait_s=1) as acquired:
            holders = advisory_lock_holders(db, PRISMA_LOCK_KEY)
            assert [h.pid for h in holders] == [conn.info.backend_pid]
            # Prisma's own lock call from another session cannot get it
            assert db.execute("SELECT pg_try_advisory_lock(%s::bigint)", (PRISMA_LOCK_KEY,)).fetchone()[0] is False
        assert acquired.waited_s < 0.5
        assert advisory_lock_holders(db, PRISMA_LOCK_KEY) == []


def test_held_lock_gives_up_after_the_wait_and_names_the_holder(db_url: str) -> None:
    with _session(db_url, "deploy-job-42") as holder, _session(db_url, "mg-test") as conn:
        holder.execute("SELECT pg_advisory_lock(%s::bigint)", (PRISMA_LOCK_KEY,))
        holder_pid = holder.info.backend_pid
        started = time.monotonic()
        with pytest.raises(MigrationLockError) as caught:
            with migration_lock(conn, PRISMA_LOCK_KEY, wait_s=0.6):
                pytest.fail("the lock should not have been granted")
        waited = time.monotonic() - started

    assert 0.55 <= waited < 2.0
    message = str(caught.value)
    assert f"pid {holder_pid}" in message
    assert "deploy-job-42" in message
    assert "72707369" in message
    assert caught.value.holders[0].pid == holder_pid
    assert "pg_terminate_backend" in caught.value.suggestion


def test_waits_until_the_holder_releases(db_url: str) -> None:
    with _session(db_url, "other-migrate") as holder, _session(db_url, "mg-test") as conn:
        holder.execute("SELECT pg_advisory_lock(%s::bigint)", (PRISMA_LOCK_KEY,))
        release = threading.Timer(0.4, lambda: holder.execute("SELECT pg_advisory_unlock(%s::bigint)", (PRISMA_LOCK_KEY,)))
        release.start()
        try:
            with migration_lock(conn, PRISMA_LOCK_KEY, wait_s=5) as acquired:
                assert conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                ).fetchone()[0] == 1
        finally:
            release.join()
    assert acquired.waited_s >= 0.3
    assert acquired.attempts > 1
    assert any("other-migrate" in h for h in acquired.seen_holders)


def test_lock_released_when_the_body_raises(db_url: str, db: psycopg.Connection) -> None:
    with _session(db_url, "mg-test") as conn:
        with pytest.raises(RuntimeError):
            with migration_lock(conn, 12345, wait_s=1):
                raise RuntimeError("boom")
    assert db.execute("SELECT pg_try_advisory_lock(12345::bigint)").fetchone()[0] is True

"""run_statements: SET LOCAL timeouts, all-or-nothing transactions, step mode with re-runnable
statements, and 55P03 retried with backoff inside a budget while readers are never stuck."""

from __future__ import annotations

import logging
import threading
import time

import psycopg
import pytest

from migration_guard.tasks.errors import ConfigError
from migration_guard.tasks.migrate.execute import LockRetryExhausted, StatementFailed, run_statements
from migration_guard.tasks.migrate.rerunnable import steps_for
from migration_guard.tasks.durations import postgres_duration_seconds as duration_seconds, postgres_duration_setting as pg_duration
from migration_guard.tasks.sql.statements import split_statements


def _conn(db_url: str, app: str = "mg-test") -> psycopg.Connection:
    return psycopg.connect(db_url, autocommit=True, application_name=app)


def _tables(db: psycopg.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def test_durations() -> None:
    assert duration_seconds("5s") == 5
    assert duration_seconds("500ms") == 0.5
    assert duration_seconds("2min") == 120
    assert duration_seconds("250") == 0.25  # PostgreSQL's default unit is ms
    assert duration_seconds(1.5) == 1.5
    assert pg_duration("1.5s") == "1500ms"
    with pytest.raises(ConfigError, match="lock_timeout"):
        duration_seconds("soon", name="lock_timeout")


def test_transaction_rolls_back_everything_on_a_failing_statement(db_url: str, db: psycopg.Connection) -> None:
    script = "CREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\nALTER TABLE missing ADD COLUMN x int;\nCREATE TABLE b (id int);"
    committed: list[str] = []
    with _conn(db_url) as conn:
        with pytest.raises(StatementFailed) as caught:
            run_statements(conn, script, lock_timeout="1s", statement_timeout="10s", transactional=True,
                           retry_budget_s=5, before_commit=lambda c: committed.append("yes"))
    error = caught.value
    assert error.rolled_back and error.steps_done == 0
    assert error.sqlstate == "42P01"
    assert "statement 3 (line 3)" in str(error)
    assert _tables(db) == set()
    assert committed == []


def test_transaction_applies_with_timeouts_set_locally(db_url: str, db: psycopg.Connection) -> None:
    seen: list[tuple[str, str]] = []
    with _conn(db_url) as conn:
        result = run_statements(
            conn, "CREATE TABLE a (id int); CREATE TABLE b (id int)", lock_timeout="750ms",
            statement_timeout="3s", transactional=True, retry_budget_s=5,
            before_commit=lambda c: seen.append(c.execute(
                "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')").fetchone()),
        )
        after = conn.execute("SELECT current_setting('lock_timeout')").fetchone()[0]
    assert result.steps_done == 2 and result.attempts == 1 and result.lock_waits == []
    assert seen == [("750ms", "3s")]
    assert after == "0"  # SET LOCAL: nothing leaks into the session
    assert _tables(db) == {"a", "b"}


def test_lock_timeout_retries_until_the_blocker_goes(db_url: str, db: psycopg.Connection, caplog) -> None:
    db.execute("CREATE TABLE t (id int)")
    with _conn(db_url, "long-report") as blocker, _conn(db_url) as conn:
        blocker.execute("BEGIN")
        blocker.execute("SELECT * FROM t")  # ACCESS SHARE, held until commit
        release = threading.Timer(1.0, blocker.execute, args=("COMMIT",))
        release.start()
        try:
            with caplog.at_level(logging.WARNING, logger="migration_guard.migrate"):
                result = run_statements(conn, "ALTER TABLE t ADD COLUMN note text", lock_timeout="300ms",
                                        statement_timeout="0", transactional=True, retry_budget_s=10,
                                        backoff_base_s=0.1)
        finally:
            release.join()
    assert result.lock_waits, "the first attempt should have hit lock_timeout"
    assert result.attempts == len(result.lock_waits) + 1
    assert any("long-report" in b for w in result.lock_waits for b in w.blockers)
    assert "long-report" in caplog.text
    assert db.execute("SELECT count(*) FROM information_schema.columns WHERE table_name='t' AND column_name='note'").fetchone()[0] == 1


def test_budget_exhausted_fails_cleanly_and_readers_wait_at_most_lock_timeout(db_url: str, db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
    reader_latencies: list[float] = []
    stop = threading.Event()

    def reader() -> None:
        with _conn(db_url, "reader") as rc:
            while not stop.is_set():
                started = time.monotonic()
                rc.execute("SELECT count(*) FROM t").fetchone()
                reader_latencies.append(time.monotonic() - started)
                time.sleep(0.02)

    with _conn(db_url, "long-tx") as blocker, _conn(db_url) as conn:
        blocker.execute("BEGIN")
        blocker.execute("SELECT * FROM t")
        thread = threading.Thread(target=reader)
        thread.start()
        started = time.monotonic()
        try:
            with pytest.raises(LockRetryExhausted) as caught:
                run_statements(conn, "ALTER TABLE t ADD COLUMN note text", lock_timeout="300ms",
                               statement_timeout="0", transactional=True, retry_budget_s=2.0, backoff_base_s=0.1)
            elapsed = time.monotonic() - started
        finally:
            stop.set()
            thread.join()
            blocker.execute("ROLLBACK")
    error = caught.value
    assert len(error.lock_waits) >= 2
    assert error.rolled_back
    assert "long-tx" in str(error)
    assert 1.5 < elapsed < 3.5
    assert reader_latencies and max(reader_latencies) < 0.3 + 0.1
    assert db.execute("SELECT count(*) FROM information_schema.columns WHERE table_name='t' AND column_name='note'").fetchone()[0] == 0


def test_step_mode_records_progress_and_stops_at_the_failure(db_url: str, db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE t (a int)")
    progress: list[int] = []
    script = "CREATE INDEX CONCURRENTLY t_a ON t (a);\nCREATE INDEX CONCURRENTLY t_b ON t (b);"
    with _conn(db_url) as conn:
        with pytest.raises(StatementFailed) as caught:
            run_statements(conn, script, lock_timeout="1s", statement_timeout="0", transactional=False,
                           retry_budget_s=5, on_step=lambda c, done, step: progress.append(done))
    assert progress == [1]
    assert caught.value.steps_done == 1 and not caught.value.rolled_back
    assert caught.value.sqlstate == "42703"
    assert {r[0] for r in db.execute("SELECT indexname FROM pg_indexes WHERE tablename = 't'")} == {"t_a"}


def test_step_mode_drops_a_leftover_invalid_index_and_resumes(db_url: str, db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE t (a int); INSERT INTO t VALUES (1), (1)")
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute("CREATE UNIQUE INDEX CONCURRENTLY t_a_key ON t (a)")
    assert db.execute("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = 't_a_key'::regclass").fetchone()[0]
    db.execute("DELETE FROM t WHERE ctid = (SELECT max(ctid) FROM t)")

    steps = steps_for(split_statements("CREATE TABLE other (id int);\nCREATE UNIQUE INDEX CONCURRENTLY t_a_key ON t (a);"))
    with _conn(db_url) as conn:
        result = run_statements(conn, steps, lock_timeout="1s", statement_timeout="0", transactional=False,
                                retry_budget_s=5, start_at=1)
    assert result.steps_done == 2
    assert any("t_a_key" in c for c in result.cleanups)
    assert db.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 't_a_key'::regclass").fetchone()[0]
    assert "other" not in _tables(db)  # start_at skipped the first step

"""Applying migrations: all-or-nothing transactions, resumable step-by-step concurrent indexes,
one winner among concurrent runs, and bounded lock waits — against real PostgreSQL and the real
Prisma CLI."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.settings import load_settings
from migration_guard.tasks.catalog import invalid_indexes
from migration_guard.tasks.migrate.apply import (
    ApplyOptions,
    MigrationApplyError,
    MigrationBlockedError,
    apply_pending,
    prepare_migration,
)
from migration_guard.tasks.migrate.lock import MigrationLockError
from migration_guard.tasks.models import State
from migration_guard.tasks.project import Project
from migration_guard.tasks.status.pipeline import read_status
from tests.helpers import add_prisma_migration, make_prisma_project, make_sql_project

INIT = "20240101000000_init"
SECOND = "20240102000000_second"
THIRD = "20240103000000_third"
FAST = ApplyOptions(lock_timeout="1s", statement_timeout="30s", retry_budget_s=5, lock_wait_s=10)


def project(db_url: str, migrations_dir: Path) -> Project:
    return Project.from_settings(load_settings(database_url=db_url, migrations_dir=migrations_dir))


def states(db_url: str, migrations_dir: Path) -> dict[str, State]:
    return {s.name: s.state for s in read_status(project(db_url, migrations_dir)).statuses}


def prisma(cli: Path, root: Path, db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(cli), *args], cwd=root, env={**os.environ, "DATABASE_URL": db_url},
                          capture_output=True, text=True, timeout=120)


def tables(db: psycopg.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


@pytest.mark.prisma
def test_failing_statement_leaves_no_trace_and_prisma_agrees(
    prisma_cli: Path, tmp_path: Path, db_url: str, db: psycopg.Connection
) -> None:
    migrations = make_prisma_project(tmp_path, {
        INIT: "CREATE TABLE a (id int);\n",
        SECOND: "CREATE TABLE b (id int);\nINSERT INTO b VALUES (1);\nALTER TABLE b ADD COLUMN c int NOT NULL DEFAULT 1/0;\nCREATE TABLE d (id int);\n",
    })
    proj = project(db_url, migrations)

    with pytest.raises(MigrationApplyError) as caught:
        apply_pending(proj.dsn, proj.ledger, FAST)

    outcome = caught.value.outcome
    assert outcome.name == SECOND and "statement 3 (line 3)" in outcome.error and "22012" in outcome.error
    assert caught.value.report.applied == [INIT]
    assert tables(db) == {"a", "_prisma_migrations"}  # nothing of SECOND remains
    rows = db.execute("SELECT finished_at IS NULL, rolled_back_at IS NOT NULL, logs FROM _prisma_migrations "
                      "WHERE migration_name = %s", (SECOND,)).fetchall()
    assert len(rows) == 1 and rows[0][0] and rows[0][1] and "division by zero" in rows[0][2]
    assert states(db_url, migrations) == {INIT: State.APPLIED, SECOND: State.ROLLED_BACK}
    status = prisma(prisma_cli, tmp_path, db_url, "migrate", "status")
    assert status.returncode == 1, status.stdout + status.stderr
    assert "not yet been applied" in status.stdout and SECOND in status.stdout
    assert "failed" not in status.stdout.lower()

    add_prisma_migration(migrations, SECOND, "CREATE TABLE b (id int);\nINSERT INTO b VALUES (1);\nALTER TABLE b ADD COLUMN c int NOT NULL DEFAULT 1;\nCREATE TABLE d (id int);\n")
    report = apply_pending(proj.dsn, proj.ledger, FAST)

    assert report.applied == [SECOND]
    assert {"b", "d"} <= tables(db)
    assert states(db_url, migrations) == {INIT: State.APPLIED, SECOND: State.APPLIED}
    status = prisma(prisma_cli, tmp_path, db_url, "migrate", "status")
    assert status.returncode == 0 and "Database schema is up to date" in status.stdout, status.stdout + status.stderr
    applied_row = db.execute("SELECT applied_steps_count, logs FROM _prisma_migrations WHERE migration_name = %s "
                             "AND rolled_back_at IS NULL", (SECOND,)).fetchone()
    assert applied_row == (1, None)


SLOW_SETUP = """CREATE TABLE events (id int);
INSERT INTO events SELECT g FROM generate_series(1, 12) g;
CREATE FUNCTION slow_id(i int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM pg_sleep(0.15); RETURN i; END $$;
"""
CONCURRENT = """CREATE TABLE audit (id int);
CREATE INDEX CONCURRENTLY events_slow_idx ON events ((slow_id(id)));
CREATE INDEX CONCURRENTLY audit_id_idx ON audit (id);
"""


def test_interrupted_concurrent_index_is_reported_precisely_and_resumed(
    tmp_path: Path, db_url: str, db: psycopg.Connection
) -> None:
    migrations = make_prisma_project(tmp_path, {INIT: SLOW_SETUP, SECOND: CONCURRENT})
    proj = project(db_url, migrations)
    assert not prepare_migration(proj.ledger.read_migrations()[1]).transactional
    errors: list[BaseException] = []

    def run() -> None:
        try:
            apply_pending(proj.dsn, proj.ledger, FAST)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 20
    pid = None
    while pid is None and time.monotonic() < deadline:
        row = db.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                         "AND query LIKE 'CREATE INDEX CONCURRENTLY%%events_slow_idx%%' AND state = 'active'").fetchone()
        pid = row[0] if row else None
        time.sleep(0.05)
    assert pid is not None, "the concurrent index build never started"
    time.sleep(0.3)
    db.execute("SELECT pg_terminate_backend(%s)", (pid,))
    worker.join(30)

    assert len(errors) == 1 and isinstance(errors[0], MigrationApplyError), errors
    assert errors[0].outcome.steps_done == 1
    report = read_status(proj)
    second = next(s for s in report.statuses if s.name == SECOND)
    assert second.state is State.FAILED and "after 1 step(s)" in second.detail
    row = db.execute("SELECT applied_steps_count, logs FROM _prisma_migrations WHERE migration_name = %s", (SECOND,)).fetchone()
    assert row[0] == 1 and "after 1 of 3" in row[1]
    assert [i.name for i in invalid_indexes(db)] == ["events_slow_idx"]

    resumed = apply_pending(proj.dsn, proj.ledger, FAST)

    assert resumed.applied == [SECOND] and resumed.outcomes[0].resumed_from == 1
    assert any("events_slow_idx" in c for c in resumed.outcomes[0].cleanups)
    assert states(db_url, migrations) == {INIT: State.APPLIED, SECOND: State.APPLIED}
    assert invalid_indexes(db) == []
    assert db.execute("SELECT count(*), min(applied_steps_count), count(logs) FROM _prisma_migrations "
                      "WHERE migration_name = %s", (SECOND,)).fetchone() == (1, 3, 0)


def test_three_runs_at_once_apply_each_migration_exactly_once(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations = make_prisma_project(tmp_path, {
        INIT: "CREATE TABLE a (id int);\nSELECT pg_sleep(0.3);\n",
        SECOND: "CREATE TABLE b (id int);\nSELECT pg_sleep(0.3);\n",
        THIRD: "CREATE TABLE c (id int);\n",
    })
    proj = project(db_url, migrations)
    barrier = threading.Barrier(3)
    results: list[object] = []

    def run(wait: float) -> None:
        barrier.wait()
        try:
            results.append(apply_pending(proj.dsn, proj.ledger, ApplyOptions(lock_timeout="1s", lock_wait_s=wait)))
        except BaseException as exc:  # noqa: BLE001
            results.append(exc)

    threads = [threading.Thread(target=run, args=(wait,)) for wait in (10, 10, 0.2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    reports = [r for r in results if not isinstance(r, BaseException)]
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(reports) + len(failures) == 3
    assert sorted(len(r.applied) for r in reports)[-1] == 3  # one run applied everything
    assert sum(len(r.applied) for r in reports) == 3  # the others found nothing left
    assert all(isinstance(f, MigrationLockError) and "pg_advisory_lock(72707369)" in str(f) and "pid " in str(f)
               for f in failures)
    rows = db.execute("SELECT migration_name, count(*) FROM _prisma_migrations GROUP BY 1 ORDER BY 1").fetchall()
    assert rows == [(INIT, 1), (SECOND, 1), (THIRD, 1)]


def test_lock_held_by_long_transaction_retries_then_fails_cleanly(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE accounts (id int); INSERT INTO accounts VALUES (1)")
    migrations = make_prisma_project(tmp_path, {INIT: "ALTER TABLE accounts ADD COLUMN email text;\n"})
    proj = project(db_url, migrations)
    latencies: list[float] = []
    stop = threading.Event()

    def reader() -> None:
        with psycopg.connect(db_url, autocommit=True, application_name="app-reader") as conn:
            while not stop.is_set():
                started = time.monotonic()
                conn.execute("SELECT * FROM accounts").fetchall()
                latencies.append(time.monotonic() - started)
                time.sleep(0.01)

    with psycopg.connect(db_url, autocommit=True, application_name="nightly-report") as blocker:
        blocker.execute("BEGIN")
        blocker.execute("SELECT * FROM accounts")
        thread = threading.Thread(target=reader)
        thread.start()
        try:
            with pytest.raises(MigrationApplyError) as caught:
                apply_pending(proj.dsn, proj.ledger, ApplyOptions(lock_timeout="250ms", retry_budget_s=2.0))
        finally:
            stop.set()
            thread.join()
            blocker.execute("ROLLBACK")

    outcome = caught.value.outcome
    assert len(outcome.lock_waits) >= 2
    assert "nightly-report" in caught.value.message
    assert max(latencies) < 0.25 + 0.1
    assert states(db_url, migrations) == {INIT: State.ROLLED_BACK}
    assert db.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts' "
                      "AND column_name = 'email'").fetchone()[0] == 0


def test_failed_migration_not_left_by_us_blocks_everything(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations = make_prisma_project(tmp_path, {INIT: "CREATE TABLE a (id int);\n", SECOND: "CREATE TABLE b (id int);\n"})
    proj = project(db_url, migrations)
    with psycopg.connect(db_url, autocommit=True) as conn:
        proj.ledger.ensure_table(conn)
        first = proj.ledger.read_migrations()[0]
        proj.ledger.record_failed(conn, proj.ledger.record_started(conn, first), "Prisma: error")

    with pytest.raises(MigrationBlockedError, match="P3009") as caught:
        apply_pending(proj.dsn, proj.ledger, FAST)
    assert "migration-guard recover" in caught.value.suggestion
    assert "b" not in tables(db)


def test_sql_folder_project_and_parse_errors(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    folder = make_sql_project(tmp_path, {"0001_init": "CREATE TABLE a (id int);", "0002_bad": "CREATE TABLE (;"})
    proj = project(db_url, folder)

    with pytest.raises(Exception, match=r"0002_bad.sql:1:\d+") as caught:
        apply_pending(proj.dsn, proj.ledger, FAST)
    assert "nothing was applied" in caught.value.suggestion
    assert "a" not in tables(db)  # the parse error is found before anything runs

    (folder / "0002_bad.sql").write_text("CREATE TABLE b (id int);")
    report = apply_pending(proj.dsn, proj.ledger, FAST)
    assert report.applied == ["0001_init", "0002_bad"]
    assert db.execute("SELECT count(*) FROM migration_guard.schema_migrations WHERE finished_at IS NOT NULL").fetchone()[0] == 2


@pytest.mark.prisma
def test_step_by_step_rows_read_by_prisma(prisma_cli: Path, tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations = make_prisma_project(tmp_path, {
        INIT: "CREATE TABLE a (id int, b int);\n",
        SECOND: "CREATE INDEX CONCURRENTLY a_b_idx ON a (b);\nCREATE INDEX CONCURRENTLY a_missing_idx ON a (nope);\n",
    })
    proj = project(db_url, migrations)
    with pytest.raises(MigrationApplyError):
        apply_pending(proj.dsn, proj.ledger, FAST)

    status = prisma(prisma_cli, tmp_path, db_url, "migrate", "status")
    deploy = prisma(prisma_cli, tmp_path, db_url, "migrate", "deploy")
    assert status.returncode == 1 and SECOND in status.stdout + status.stderr and "failed" in (status.stdout + status.stderr).lower()
    assert deploy.returncode != 0 and "P3009" in deploy.stdout + deploy.stderr  # Prisma will not run over it

    add_prisma_migration(migrations, SECOND, "CREATE INDEX CONCURRENTLY a_b_idx ON a (b);\nCREATE INDEX CONCURRENTLY a_id_idx ON a (id);\n")
    with pytest.raises(MigrationBlockedError):  # the file changed: not the migration that stopped midway
        apply_pending(proj.dsn, proj.ledger, FAST)


def test_losing_the_lock_session_stops_before_the_next_migration(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations = make_prisma_project(tmp_path, {
        INIT: "SELECT pg_sleep(1.5);\nCREATE TABLE a (id int);\n",
        SECOND: "CREATE TABLE b (id int);\n",
    })
    proj = project(db_url, migrations)

    def kill_lock_session() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            # once the first migration runs (its pg_sleep), end the lock session of this database's run
            row = db.execute("SELECT l.pid FROM pg_stat_activity l JOIN pg_stat_activity a ON a.datname = l.datname "
                             "WHERE l.application_name = 'migration-guard migrate lock' AND l.datname = current_database() "
                             "AND a.application_name = 'migration-guard migrate' AND a.query LIKE 'SELECT pg_sleep%%' "
                             "AND a.state = 'active'").fetchone()
            if row:
                db.execute("SELECT pg_terminate_backend(%s)", (row[0],))
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_lock_session)
    killer.start()
    with pytest.raises(Exception, match="lost the session holding the migration lock") as caught:
        apply_pending(proj.dsn, proj.ledger, FAST)
    killer.join()
    assert "re-run: migration-guard migrate" in caught.value.suggestion
    assert "a" in tables(db) and "b" not in tables(db)

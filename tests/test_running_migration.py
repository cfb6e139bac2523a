"""A migration still running is `running`, not failed (issue 18, item 1): the real Prisma CLI runs
`migrate deploy` on a slow migration, and our own step-by-step CONCURRENTLY migration waits on a
lock, while `status`, the healthcheck, `migrate` and `recover` look. Plus the plain rules of
tasks/status/inflight.py (which evidence gives which confidence) and the healthcheck threshold."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.healthcheck.checks.migrations import evaluate
from migration_guard.tasks.ledgers.prisma import PRISMA_LOCK_KEY
from migration_guard.tasks.models import LedgerEntry, LiveSession, Migration, State
from migration_guard.tasks.status.compute import build_report
from migration_guard.tasks.status.inflight import find_in_flight, runs_statement_of
from tests.faults.support import spawn_cli, wait_for
from tests.helpers import make_prisma_project, run_cli

INIT, SLOW, AFTER = "20240101000000_init", "20240102000000_slow", "20240103000000_after"
SLOW_SQL = "SELECT pg_sleep(7);\nALTER TABLE t ADD COLUMN x int;\n"


def _env(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(tmp_path / "prisma" / "migrations"),
            "BACKUP_DIR": str(tmp_path / "backups"), "ALERTS_DIR": str(tmp_path / "alerts"),
            "LOG_DIR": str(tmp_path / "logs"), **extra}


def _unfinished(db: psycopg.Connection, name: str) -> bool:
    return bool(db.execute("SELECT 1 FROM _prisma_migrations WHERE migration_name = %s AND finished_at IS NULL",
                           (name,)).fetchone()) if db.execute(
        "SELECT to_regclass('_prisma_migrations')").fetchone()[0] else False


@pytest.mark.prisma
def test_prisma_deploy_in_flight_is_running_for_status_healthcheck_and_migrate(
        prisma_cli: Path, tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    make_prisma_project(tmp_path, {INIT: "CREATE TABLE t (id int);\n", SLOW: SLOW_SQL,
                                   AFTER: "ALTER TABLE t ADD COLUMN y int;\n"})
    deploy = subprocess.Popen([str(prisma_cli), "migrate", "deploy"], cwd=tmp_path, text=True,
                              env={**os.environ, "DATABASE_URL": db_url}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _unfinished(db, SLOW), timeout=30, what="prisma to start the slow migration")
        env = _env(db_url, tmp_path)

        status = run_cli(["status", "--json"], env)
        text = run_cli(["status"], env)
        health = run_cli(["healthcheck", "--json"], env)

        assert status.exit_code == 1, status.output
        migrations = {m["name"]: m for m in json.loads(status.stdout)["migrations"]}
        slow = migrations[SLOW]
        assert slow["state"] == "running"
        holder = db.execute("SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.objid = %s "
                            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                            (PRISMA_LOCK_KEY,)).fetchone()[0]
        assert slow["in_flight"]["pid"] == holder and slow["in_flight"]["confidence"] == "high"
        assert "pg_sleep(7)" in slow["in_flight"]["query"]
        assert text.exit_code == 1 and "running" in text.output and "resolve --" not in text.output
        assert "failed" not in text.output.replace("0 failed", "")
        checks = {c["check"]: c for c in json.loads(health.stdout)["checks"]}
        assert checks["migrations"]["status"] == "OK", checks["migrations"]
        assert f"{SLOW} running by pid {holder}" in checks["migrations"]["summary"]
        assert not list((tmp_path / "alerts").glob("*.json")) or all(
            json.loads(p.read_text())["check"] != "migrations" for p in (tmp_path / "alerts").glob("*.json"))

        # migrate: validation waits for the running migration instead of failing on it
        migrate = run_cli(["migrate", "--skip-backup"], _env(db_url, tmp_path, MIGRATE_LOCK_WAIT="30"))
        assert migrate.exit_code == 0, migrate.output
        assert "resolve --rolled-back" not in migrate.output and "1 failed" not in migrate.output
    finally:
        out, _ = deploy.communicate(timeout=60)
    assert deploy.returncode == 0, out
    final = json.loads(run_cli(["status", "--json"], _env(db_url, tmp_path)).stdout)
    assert {m["name"]: m["state"] for m in final["migrations"]} == {INIT: "applied", SLOW: "applied", AFTER: "applied"}


STEPWISE = "CREATE INDEX CONCURRENTLY t_note_idx ON t (note);\nCREATE INDEX CONCURRENTLY t_id_note_idx ON t (id, note);\n"


def test_our_stepwise_concurrently_migration_in_flight_is_running_and_recover_refuses(
        tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    make_prisma_project(tmp_path, {INIT: "CREATE TABLE t (id int, note text);\n"})
    env = _env(db_url, tmp_path, LOCK_TIMEOUT="2s")
    assert run_cli(["migrate", "--skip-backup"], env).exit_code == 0
    from tests.helpers import add_prisma_migration
    add_prisma_migration(tmp_path / "prisma" / "migrations", SLOW, STEPWISE)
    blocker = psycopg.connect(db_url)
    blocker.execute("INSERT INTO t VALUES (1, 'open')")  # an open writer: CREATE INDEX CONCURRENTLY waits for it
    run = spawn_cli(["migrate", "--skip-backup"], env, tmp_path)
    try:
        wait_for(lambda: db.execute(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'migration-guard migrate' "
            "AND query ILIKE 'CREATE INDEX CONCURRENTLY%' AND state = 'active'").fetchone(),
            running=run, timeout=30, what="the concurrent build to wait")

        status = run_cli(["status", "--json"], env)
        recover = run_cli(["recover", "--yes", "--stale-lock-seconds", "0"], env)
        health = run_cli(["healthcheck", "--json"], env)

        assert status.exit_code == 1, status.output
        slow = {m["name"]: m for m in json.loads(status.stdout)["migrations"]}[SLOW]
        assert slow["state"] == "running"
        assert slow["in_flight"]["application_name"] == "migration-guard migrate"
        assert slow["in_flight"]["query"].startswith("CREATE INDEX CONCURRENTLY")
        assert slow["in_flight"]["confidence"] == "high"
        assert recover.exit_code == 1 and "a migration is running now" in recover.output, recover.output
        checks = {c["check"]: c for c in json.loads(health.stdout)["checks"]}
        assert checks["migrations"]["status"] == "OK" and checks["stale_migration_lock"]["status"] == "OK"
    finally:
        blocker.commit()
        blocker.close()
    assert run.wait(60) == 0, run.stdout + run.stderr
    final = json.loads(run_cli(["status", "--json"], env).stdout)
    assert {m["name"]: m["state"] for m in final["migrations"]} == {INIT: "applied", SLOW: "applied"}


# ---- the plain rules -------------------------------------------------------------------------

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _migration(sql: str = SLOW_SQL) -> Migration:
    return Migration(SLOW, Path("m.sql"), sql, "c" * 64)


def _row(started: datetime = T0, name: str = SLOW, row_id: str = "r1") -> LedgerEntry:
    return LedgerEntry(row_id, name, "c" * 64, started, None, None, 0, None)


def _session(pid: int = 42, *, state: str = "idle", query: str = "SELECT 1", holds_lock: bool = True,
             connected: datetime = T0 - timedelta(seconds=1), app: str = "") -> LiveSession:
    return LiveSession(pid, app, state, query, connected, connected, holds_lock)


def test_a_session_running_one_of_its_statements_is_high_confidence() -> None:
    found = find_in_flight(_migration(), _row(), [_session(state="active", query="ALTER TABLE t ADD COLUMN x int")],
                           newest_unfinished=True)
    assert found is not None and found.confidence == "high" and found.session.pid == 42


def test_the_lock_alone_is_medium_confidence_and_only_for_a_holder_connected_before_the_attempt() -> None:
    before = find_in_flight(_migration(), _row(), [_session()], newest_unfinished=True)
    assert before is not None and before.confidence == "medium" and "inferred" in before.evidence
    later = find_in_flight(_migration(), _row(), [_session(connected=T0 + timedelta(minutes=5))],
                           newest_unfinished=True)
    assert later is None
    older_row = find_in_flight(_migration(), _row(), [_session()], newest_unfinished=False)
    assert older_row is None


def test_no_session_means_failed_and_the_report_says_running_otherwise() -> None:
    migration = _migration()
    report = build_report([migration], [_row()], tool="prisma", migrations_dir="m", database="d",
                          ledger_table="public._prisma_migrations", ledger_exists=True)
    assert report.statuses[0].state is State.FAILED and report.exit_code == 2
    running = build_report([migration], [_row()], tool="prisma", migrations_dir="m", database="d",
                           ledger_table="public._prisma_migrations", ledger_exists=True, sessions=[_session()])
    status = running.statuses[0]
    assert status.state is State.RUNNING and running.exit_code == 1 and running.problems == []
    assert "resolve" not in status.suggestion.replace("never mark a running migration resolved", "")
    assert "running" in running.summary


def test_generic_queries_do_not_match_a_migration() -> None:
    assert not runs_statement_of("SELECT 1", "SELECT 1; CREATE TABLE x (id int);")
    assert runs_statement_of("CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a)", "create index concurrently i on t (a);")


def test_healthcheck_alerts_only_past_the_running_threshold_naming_the_session() -> None:
    query = "SELECT pg_sleep(7);"
    report = build_report([_migration()], [_row(started=T0)], tool="prisma", migrations_dir="m", database="d",
                          ledger_table="public._prisma_migrations", ledger_exists=True,
                          sessions=[_session(pid=77, state="active", query=query, app="deployer")])
    within = evaluate(report, T0 + timedelta(minutes=5), 3600, "db", running_limit_seconds=1800)
    assert within.problem is None
    past = evaluate(report, T0 + timedelta(minutes=45), 3600, "db", running_limit_seconds=1800)
    assert past.problem is not None and past.problem.severity == "MEDIUM"
    assert "pid 77" in past.problem.message and "deployer" in past.problem.message and "pg_sleep" in past.problem.message
    assert not any("resolve" in s for s in past.problem.suggestions)

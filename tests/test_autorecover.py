"""Auto-recovery (issue 17): each safe class reproduced on real PostgreSQL, repaired by the
healthcheck under AUTO_RECOVER=safe and left alone (alert only, with the command) under off.

- a real idle session (a frozen client process) holding Prisma's migration lock;
- a real failed CREATE INDEX CONCURRENTLY leaving an INVALID index;
- real failed migrations made by the real Prisma CLI (`prisma migrate deploy`, all-or-nothing and
  SHIM_SPLIT_SCRIPT=1 statement by statement), judged afterwards by `prisma migrate status`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from migration_guard.tasks.alerts.api import list_alerts
from migration_guard.tasks.healthcheck.pipeline import run_healthcheck
from migration_guard.tasks.healthcheck.report import HealthReport
from migration_guard.tasks.ledgers.prisma import PRISMA_LOCK_KEY, PrismaLedger
from migration_guard.tasks.settings import load_settings
from tests.faults.support import wait_for
from tests.helpers import make_prisma_project

HOLD_LOCK = """
import sys, psycopg
conn = psycopg.connect(sys.argv[1], autocommit=True, application_name="stuck deploy")
conn.execute("SELECT pg_advisory_lock(72707369)")
print(conn.info.backend_pid, flush=True)
sys.stdin.read()
"""


def _settings(tmp_path: Path, db_url: str, policy: str, *, migrations: Path | None = None,
              stale_lock: str = "0s", **extra: Any):
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "healthcheck.json"
    config.write_text(json.dumps({"thresholds": {"stale_migration_lock": stale_lock}}))
    return load_settings(database_url=db_url, migrations_dir=migrations, auto_recover=policy,
                         healthcheck_config=config, alerts_dir=tmp_path / "alerts", log_dir=tmp_path / "logs",
                         backup_dir=tmp_path / "backups", state_dir=tmp_path / "state", **extra)


def _check(report: HealthReport, name: str):
    return next(r for r in report.results if r.check == name)


def _rows(report: HealthReport) -> list:
    return [r for r in report.results if r.check == "auto_recover"]


def _alerts(settings, *, resolved: bool = False) -> list:
    alerts, _ = list_alerts(settings, include_resolved=resolved)
    return alerts


@pytest.fixture
def frozen_lock_holder(db_url: str) -> Iterator[int]:
    """A client process that took Prisma's migration lock and then froze (SIGSTOP): its session
    stays idle, holding the lock, as after a deploy whose client hung. Yields the backend pid."""
    process = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, db_url], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        pid = int(process.stdout.readline())
        process.send_signal(signal.SIGSTOP)
        yield pid
    finally:
        process.send_signal(signal.SIGCONT)
        process.kill()
        process.wait(timeout=10)


def _lock_holders(db: psycopg.Connection) -> list[int]:
    return [r[0] for r in db.execute(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        (PRISMA_LOCK_KEY,)).fetchall()]


def test_safe_terminates_an_idle_session_holding_the_migration_lock(
        tmp_path: Path, db_url: str, db: psycopg.Connection, frozen_lock_holder: int) -> None:
    pid = frozen_lock_holder
    settings = _settings(tmp_path, db_url, "safe")

    report = run_healthcheck(settings)

    assert _lock_holders(db) == []
    assert db.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0] == 0
    [row] = _rows(report)
    assert row.status.value == "OK" and row.summary.startswith(f"done: terminate pid {pid}")
    assert "stuck deploy" in row.summary and "pg_advisory_lock(72707369)" in row.summary
    assert _check(report, "stale_migration_lock").status.value == "OK"  # checked again after the action
    [action] = report.to_dict()["auto_recover"]["actions"]
    assert action["state"] == "done" and action["commands"] == [f"SELECT pg_terminate_backend({pid});"]
    assert action["detail"] == f"pid {pid} terminated; the migration lock is free"
    recovery = [a for a in _alerts(settings, resolved=True) if a.check.startswith("auto_recover/")]
    assert len(recovery) == 1 and recovery[0].status.value == "resolved"
    assert recovery[0].title == f"Auto-recovery on {row.database}: done: {action['description']}"
    assert not [a for a in _alerts(settings) if a.check == "stale_migration_lock"]


def test_off_and_the_grace_period_leave_the_lock_holder_alone(
        tmp_path: Path, db_url: str, db: psycopg.Connection, frozen_lock_holder: int) -> None:
    pid = frozen_lock_holder
    off = run_healthcheck(_settings(tmp_path / "off", db_url, "off"))
    within_grace = run_healthcheck(_settings(tmp_path / "grace", db_url, "safe", stale_lock="1h"))

    assert _lock_holders(db) == [pid]
    assert off.to_dict()["auto_recover"] == {"policy": "off", "actions": []} and not _rows(off)
    problem = _check(off, "stale_migration_lock").problem
    assert problem.severity == "HIGH" and problem.suggestions[0].startswith(f"SELECT pg_terminate_backend({pid});")
    assert not within_grace.auto_recover.actions and _check(within_grace, "stale_migration_lock").status.value == "OK"


def test_safe_never_ends_our_own_migrates_lock_session(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    with psycopg.connect(db_url, autocommit=True, application_name="migration-guard migrate lock") as lock, \
            psycopg.connect(db_url, autocommit=True, application_name="migration-guard migrate"):
        lock.execute("SELECT pg_advisory_lock(72707369)")
        report = run_healthcheck(_settings(tmp_path, db_url, "safe"))
        assert _lock_holders(db) == [lock.info.backend_pid]
    assert not report.auto_recover.actions


INIT, EMAIL_INDEX = "20240101000000_init", "20240102000000_email_index"
CIC = "CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);\n"


def _invalid_index_of_an_applied_migration(tmp_path: Path, db: psycopg.Connection) -> Path:
    """A real failed CREATE INDEX CONCURRENTLY (duplicate emails) left users_email_key INVALID; its
    migration was then marked applied (as `prisma migrate resolve --applied` does)."""
    migrations = make_prisma_project(tmp_path, {INIT: "CREATE TABLE users (id int, email text);\n", EMAIL_INDEX: CIC})
    db.execute("CREATE TABLE users (id int, email text)")
    db.execute("INSERT INTO users VALUES (1, 'a@x'), (2, 'a@x'), (3, 'b@x')")
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute(CIC)
    ledger = PrismaLedger(migrations)
    ledger.ensure_table(db)
    for migration in ledger.read_migrations():
        ledger.mark_applied(db, migration)
    return migrations


def _index_state(db: psycopg.Connection, name: str) -> str:
    row = db.execute("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                     "WHERE c.relname = %s", (name,)).fetchone()
    return "absent" if row is None else "valid" if row[0] else "invalid"


def test_safe_rebuilds_an_invalid_index_from_its_migrations_statement(
        tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations = _invalid_index_of_an_applied_migration(tmp_path, db)
    db.execute("DELETE FROM users WHERE id = 2")  # the duplicate that failed the build is gone
    settings = _settings(tmp_path, db_url, "safe", migrations=migrations)

    report = run_healthcheck(settings)

    assert _index_state(db, "users_email_key") == "valid"
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute("INSERT INTO users VALUES (4, 'b@x')")
    [action] = report.auto_recover.actions
    assert action.state == "done" and action.detail == "dropped and built again; the index is valid"
    assert action.description == ("drop the INVALID index public.users_email_key on users concurrently and build it again "
                                  f"from statement 1 of the applied migration {EMAIL_INDEX}")
    assert action.commands == ("DROP INDEX CONCURRENTLY public.users_email_key;",
                               "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email_key ON users (email);")
    assert _check(report, "invalid_indexes").status.value == "OK"
    assert [r.status.value for r in _rows(report)] == ["OK"]
    assert not [a for a in _alerts(settings) if a.check in ("invalid_indexes",) or a.check.startswith("auto_recover/")]


def test_off_leaves_the_invalid_index_with_the_commands_to_run(
        tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations = _invalid_index_of_an_applied_migration(tmp_path, db)
    db.execute("DELETE FROM users WHERE id = 2")

    report = run_healthcheck(_settings(tmp_path, db_url, "off", migrations=migrations))

    assert _index_state(db, "users_email_key") == "invalid"
    assert not report.auto_recover.actions and not _rows(report)
    assert "REINDEX INDEX CONCURRENTLY public.users_email_key;" in _check(report, "invalid_indexes").problem.suggestions


def test_a_rebuild_that_fails_again_alerts_high_and_is_not_retried(
        tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations = _invalid_index_of_an_applied_migration(tmp_path, db)  # the duplicates are still there
    settings = _settings(tmp_path, db_url, "safe", migrations=migrations)

    first = run_healthcheck(settings)
    second = run_healthcheck(settings)

    assert _index_state(db, "users_email_key") == "invalid"
    [failed] = first.auto_recover.actions
    assert failed.state == "failed" and "could not create unique index" in failed.detail, failed.detail
    assert failed.detail.endswith("fix the cause, then run: "
                                  "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email_key ON users (email);")
    assert [r.status.value for r in _rows(first)] == ["CRITICAL"] and first.exit_code == 2
    [alert] = [a for a in _alerts(settings) if a.check.startswith("auto_recover/")]
    assert alert.severity.value == "HIGH" and alert.title.startswith(f"Auto-recovery on {failed.database} failed: could not drop")
    [again] = second.auto_recover.actions
    assert again.state == "skipped" and again.detail.startswith("not tried again")
    assert [a.id for a in _alerts(settings) if a.check.startswith("auto_recover/")] == [alert.id]

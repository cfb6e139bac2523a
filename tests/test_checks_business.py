"""Business freshness (the seed's late fee processing), SQL assertions, backup freshness, and a
check query that runs past CHECK_TIMEOUT (UNKNOWN, not an alert)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from migration_guard.tasks.settings import load_settings
from migration_guard.tasks.backup.metadata import BackupInfo, write_metadata
from migration_guard.tasks.healthcheck.checks import assertions, backup_freshness, freshness
from migration_guard.tasks.healthcheck.base import CheckStatus
from migration_guard.tasks.healthcheck.config import Assertion, FreshnessCheck, HealthcheckConfig
from tests.checks_support import config_with, run_one

LATE_FEES = FreshnessCheck(name="late_fee_processing", query="SELECT max(processed_at) FROM late_fee_runs",
                           period="24h", grace="1h")


def _late_fee_runs(db: psycopg.Connection, hours_ago: float | None) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS late_fee_runs (processed_at timestamptz)")
    db.execute("TRUNCATE late_fee_runs")
    if hours_ago is not None:
        db.execute("INSERT INTO late_fee_runs VALUES (now() - make_interval(secs => %s))", (hours_ago * 3600,))


def test_late_fee_processing_fresh_late_down(db_url: str, db: psycopg.Connection) -> None:
    check = freshness.make_check(LATE_FEES)
    _late_fee_runs(db, 2)
    fresh = run_one(check, db_url)
    _late_fee_runs(db, 26)
    late = run_one(check, db_url)
    _late_fee_runs(db, 60)
    down = run_one(check, db_url)
    _late_fee_runs(db, None)
    never = run_one(check, db_url)

    assert fresh.check == "freshness:late_fee_processing" and fresh.status is CheckStatus.OK
    assert late.status is CheckStatus.WARNING and late.problem.title == "Late fee processing is late on app"
    assert down.status is CheckStatus.CRITICAL and "is down" in down.problem.title
    assert never.status is CheckStatus.CRITICAL
    assert late.problem.category == "BUSINESS"


def test_assertion_holds_then_fails(db_url: str, db: psycopg.Connection) -> None:
    entry = Assertion(name="no_negative_balances", query="SELECT count(*) FROM accounts WHERE balance < 0",
                      comparison="==", threshold=0, severity="HIGH", message="Accounts with a negative balance",
                      suggestions=("SELECT id, balance FROM accounts WHERE balance < 0;",))
    db.execute("CREATE TABLE accounts (id int, balance numeric)")
    db.execute("INSERT INTO accounts VALUES (1, 10)")
    holds = run_one(assertions.make_check(entry), db_url)
    db.execute("INSERT INTO accounts VALUES (2, -5), (3, -1)")
    fails = run_one(assertions.make_check(entry), db_url)

    assert holds.status is CheckStatus.OK
    assert fails.status is CheckStatus.CRITICAL and fails.observed_value == 2
    assert fails.problem.suggestions == entry.suggestions
    assert "expected == 0" in fails.problem.message


def test_slow_assertion_is_unknown_after_check_timeout(db_url: str) -> None:
    entry = Assertion(name="slow", query="SELECT pg_sleep(5)::text::int", message="slow")
    settings = load_settings(database_url=db_url, check_timeout=1)

    started = time.perf_counter()
    result = run_one(assertions.make_check(entry), db_url, settings=settings)

    assert time.perf_counter() - started < 3
    assert result.status is CheckStatus.UNKNOWN and result.problem is None
    assert "statement" in result.summary


def _backup(directory: Path, dbname: str, age: timedelta) -> None:
    dump = directory / f"{dbname}-{int(age.total_seconds())}.dump"
    dump.write_bytes(b"PGDMP")
    write_metadata(BackupInfo(path=dump, database=dbname, created_at=datetime.now(UTC) - age, size_bytes=5,
                              sha256="0" * 64, reason="test", verified=True))


def test_backup_freshness(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    settings = load_settings(database_url=db_url, backup_dir=tmp_path)
    config = config_with(backup_max_age="1d")
    none = run_one(backup_freshness.CHECK, db_url, config, settings=settings)
    _backup(tmp_path, db.info.dbname, timedelta(days=3))
    stale = run_one(backup_freshness.CHECK, db_url, config, settings=settings)
    _backup(tmp_path, db.info.dbname, timedelta(hours=2))
    fresh = run_one(backup_freshness.CHECK, db_url, config, settings=settings)

    assert none.status is CheckStatus.CRITICAL and none.problem.category == "BACKUP"
    assert stale.status is CheckStatus.CRITICAL and "3d" in stale.problem.title
    assert fresh.status is CheckStatus.OK



def test_backup_freshness_only_runs_when_configured(db_url: str) -> None:
    from migration_guard.tasks.healthcheck.runner import check_database
    from migration_guard.tasks.healthcheck.target import DatabaseTarget

    results = check_database(DatabaseTarget("app", db_url), load_settings(database_url=db_url), HealthcheckConfig(),
                             checks=[backup_freshness.CHECK])

    assert results == []

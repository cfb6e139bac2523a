"""Database health checks against real conditions: connections, long queries, idle in
transaction, blocked lock waits, xid age, replication (primary here; the replica rule on data)."""

from __future__ import annotations

import time
from contextlib import ExitStack

import psycopg

from migration_guard.tasks.healthcheck.checks import connections, idle_in_transaction, lock_waits, long_queries, replication, wraparound
from migration_guard.tasks.healthcheck.base import CheckStatus
from migration_guard.tasks.healthcheck.config import Thresholds
from tests.checks_support import background_statement, config_with, run_one


def _wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_connections_over_threshold(db_url: str) -> None:
    assert run_one(connections.CHECK, db_url).status is CheckStatus.OK
    with ExitStack() as stack:
        for _ in range(5):
            stack.enter_context(psycopg.connect(db_url))
        warn = run_one(connections.CHECK, db_url, config_with(connections_warn_percent=5, connections_critical_percent=99))
        critical = run_one(connections.CHECK, db_url, config_with(connections_warn_percent=1, connections_critical_percent=5))

    assert warn.status is CheckStatus.WARNING and warn.observed_unit == "percent"
    assert critical.status is CheckStatus.CRITICAL
    assert any("pg_stat_activity" in s for s in critical.problem.suggestions)


def test_long_running_query(db_url: str, db: psycopg.Connection) -> None:
    assert run_one(long_queries.CHECK, db_url, config_with(long_query="1s")).status is CheckStatus.OK
    with background_statement(db_url, "SELECT pg_sleep(30)") as pid:
        time.sleep(1.2)
        result = run_one(long_queries.CHECK, db_url, config_with(long_query="1s"))

    assert result.status is CheckStatus.WARNING
    assert f"SELECT pg_cancel_backend({pid});" in result.problem.suggestions[0]


def test_idle_in_transaction(db_url: str) -> None:
    assert run_one(idle_in_transaction.CHECK, db_url, config_with(idle_in_transaction="1s")).status is CheckStatus.OK
    with psycopg.connect(db_url) as idle:  # not autocommit: the SELECT opens a transaction
        idle.execute("SELECT 1")
        time.sleep(1.2)
        result = run_one(idle_in_transaction.CHECK, db_url, config_with(idle_in_transaction="1s"))
        pid = idle.info.backend_pid

    assert result.status is CheckStatus.WARNING
    assert f"SELECT pg_terminate_backend({pid});" in result.problem.suggestions


def test_blocked_lock_wait_names_the_blocker(db_url: str, db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE accounts (id int)")
    assert run_one(lock_waits.CHECK, db_url, config_with(lock_wait="1s")).status is CheckStatus.OK
    with psycopg.connect(db_url) as holder:
        holder.execute("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
        with background_statement(db_url, "SELECT count(*) FROM accounts"):
            _wait_until(lambda: db.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND database = "
                                           "(SELECT oid FROM pg_database WHERE datname = current_database())"
                                           ).fetchone()[0] > 0)
            time.sleep(1.2)
            result = run_one(lock_waits.CHECK, db_url, config_with(lock_wait="1s"))
        blocker = holder.info.backend_pid

    assert result.status is CheckStatus.WARNING
    assert "accounts" in result.summary
    assert f"SELECT pg_terminate_backend({blocker});   -- ends the blocking transaction" in result.problem.suggestions


def test_xid_age_against_thresholds(db_url: str) -> None:
    ok = run_one(wraparound.CHECK, db_url)
    high = run_one(wraparound.CHECK, db_url, config_with(xid_age_warn=1, xid_age_critical=2))

    assert ok.status is CheckStatus.OK and ok.observed_value > 0
    assert high.status is CheckStatus.CRITICAL
    assert any("VACUUM (FREEZE" in s for s in high.problem.suggestions)


def test_replication_lag_on_a_primary_is_ok(db_url: str) -> None:
    result = run_one(replication.CHECK, db_url)

    assert result.status is CheckStatus.OK and result.summary == "primary (not a replica)"


def test_replica_lag_rule() -> None:
    limits = Thresholds()

    assert replication.evaluate(True, 5.0, limits, "r").problem is None
    assert replication.evaluate(True, 120.0, limits, "r").problem.severity == "MEDIUM"
    assert replication.evaluate(True, 3600.0, limits, "r").problem.severity == "HIGH"
    assert replication.evaluate(True, None, limits, "r").unknown

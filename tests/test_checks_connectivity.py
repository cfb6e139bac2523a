"""connectivity: classified failures by SQLSTATE; other checks UNKNOWN when it fails; a database
that never answers costs its own timeout only."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
from psycopg import sql

from migration_guard.tasks.settings import load_settings
from migration_guard.tasks.healthcheck.checks import connectivity
from migration_guard.tasks.healthcheck.base import CheckStatus
from migration_guard.tasks.healthcheck.target import DatabaseTarget
from migration_guard.tasks.healthcheck.config import HealthcheckConfig
from migration_guard.tasks.healthcheck.runner import check_database
from tests.checks_support import run_one
from tests.pg_server import with_database


def test_reachable_database_passes_with_latency(db_url: str) -> None:
    result = run_one(connectivity.CHECK, db_url)

    assert result.status is CheckStatus.OK
    assert result.observed_unit == "ms" and result.observed_value >= 0


def test_refused_connection_is_database_connection_and_others_unknown() -> None:
    dsn = "postgresql://app:Unreachable-Pw-77@127.0.0.1:1/app"
    results = check_database(DatabaseTarget("app", dsn), load_settings(database_url=dsn), HealthcheckConfig())

    first, rest = results[0], results[1:]
    assert first.check == "connectivity" and first.status is CheckStatus.CRITICAL
    assert first.problem.category == "DATABASE_CONNECTION" and first.problem.severity == "HIGH"
    assert rest and all(r.status is CheckStatus.UNKNOWN and r.problem is None for r in rest)
    assert "Unreachable-Pw-77" not in repr(results)


def test_missing_database_is_database_connection(pg_admin_url: str) -> None:
    dsn = with_database(pg_admin_url, "mg_no_such_database_7")

    result = run_one(connectivity.CHECK, dsn)

    assert result.status is CheckStatus.CRITICAL
    assert result.problem.category == "DATABASE_CONNECTION"
    assert "does not exist" in result.problem.message


def test_role_without_connect_privilege_is_permission(db_url: str, db: psycopg.Connection) -> None:
    role = f"mg_noconnect_{db.info.backend_pid}"
    dbname = db.info.dbname
    db.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    db.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(sql.Identifier(dbname)))
    try:
        dsn = psycopg.conninfo.make_conninfo(db_url, user=role)
        result = run_one(connectivity.CHECK, dsn)
    finally:
        db.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO PUBLIC").format(sql.Identifier(dbname)))
        db.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))

    assert result.status is CheckStatus.CRITICAL
    assert result.problem.category == "PERMISSION"
    assert any("GRANT CONNECT" in s for s in result.problem.suggestions)


def test_a_silent_server_delays_only_itself(db_url: str) -> None:
    """A TCP listener that never answers the startup packet: its checks take CONNECT_TIMEOUT,
    the healthy database's results do not wait for it."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    try:
        settings = load_settings(database_url=db_url, connect_timeout=2)
        targets = [DatabaseTarget("silent", f"postgresql://app@127.0.0.1:{port}/app"), DatabaseTarget("good", db_url)]
        started = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            good = pool.submit(check_database, targets[1], settings, HealthcheckConfig())
            bad = pool.submit(check_database, targets[0], settings, HealthcheckConfig())
            good_results = good.result()
            good_done = time.perf_counter() - started
            bad_results = bad.result()
        total = time.perf_counter() - started
    finally:
        silent.close()

    assert all(r.status is CheckStatus.OK for r in good_results)
    assert good_done < 1.5
    assert bad_results[0].status is CheckStatus.CRITICAL
    # connect_timeout, plus tasks.db's classifier asking the server again (2 x 3 s): bounded
    assert total < 2 + 2 * 3 + 2

"""Run every check against one database: one connection (bounded by CONNECT_TIMEOUT and a
statement_timeout on every query), each check timed and isolated. When the connection fails,
connectivity reports the classified problem and every other check reports UNKNOWN."""

from __future__ import annotations

import logging
import time
from datetime import datetime

import psycopg

from migration_guard.tasks.alerts.model import utcnow
from migration_guard.tasks.checks.result import Failure, FailureKind
from migration_guard.tasks.checks.runner import check_applies, run_check
from migration_guard.tasks.db import connect
from migration_guard.tasks.errors import DatabaseError
from migration_guard.tasks.healthcheck.checks import connectivity
from migration_guard.tasks.healthcheck.base import (
    CheckContext, CheckResult, CheckStatus, HealthCheck, Outcome, status_of,
)
from migration_guard.tasks.healthcheck.config import HealthcheckConfig
from migration_guard.tasks.healthcheck.registry import checks_for
from migration_guard.tasks.healthcheck.target import DatabaseTarget
from migration_guard.tasks.history.backend import shared_history_reads

logger = logging.getLogger("migration_guard.healthcheck")

RETRYABLE_KINDS = frozenset({"connection_refused", "terminated", "starting_up", "too_many_connections"})
APPLICATION_NAME = "migration-guard-healthcheck"


def open_check_connection(target: DatabaseTarget, settings, *, attempts: int = 2) -> psycopg.Connection:
    """Autocommit, read-only session with statement_timeout = CHECK_TIMEOUT; one retry on a refused
    or dropped connection (a timeout is not retried: it would double the wait)."""
    options = (f"-c statement_timeout={settings.check_timeout * 1000} -c lock_timeout=1000 "
               "-c default_transaction_read_only=on")
    for attempt in range(1, attempts + 1):
        try:
            return connect(target.dsn, connect_timeout=settings.connect_timeout, autocommit=True,
                           application_name=APPLICATION_NAME, options=options)
        except DatabaseError as exc:
            if attempt == attempts or exc.kind not in RETRYABLE_KINDS:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def check_database(
    target: DatabaseTarget,
    settings,
    config: HealthcheckConfig,
    *,
    checks: list[HealthCheck] | None = None,
    now: datetime | None = None,
) -> list[CheckResult]:
    """Every applicable check on ``target``; never raises for a database problem."""
    checks = checks if checks is not None else checks_for(config)
    now = now or utcnow()
    started = time.perf_counter()
    try:
        conn = open_check_connection(target, settings)
    except DatabaseError as exc:
        elapsed = (time.perf_counter() - started) * 1000
        failed = connectivity.failure(exc, target.name, target.dsn)
        results = [_result(target, connectivity.NAME, failed, elapsed)]
        ctx = CheckContext(target, None, settings, config, now)  # type: ignore[arg-type]
        for check in checks:
            if check.name != connectivity.NAME and check_applies(check, ctx, logger):
                results.append(_result(target, check.name, Outcome(
                    "not checked: the database is unreachable", unknown=True), 0.0))
        return results
    connect_ms = (time.perf_counter() - started) * 1000
    results = []
    try:
        with shared_history_reads(settings):  # one store connection for the history checks (the run's, if shared)
            ctx = CheckContext(target, conn, settings, config, now)
            for check in checks:
                if not check_applies(check, ctx, logger):
                    continue
                begun = time.perf_counter()
                outcome = _run_one(check, ctx)
                if conn.broken or conn.closed:  # session terminated under this check: new session, one retry
                    try:
                        conn = open_check_connection(target, settings)
                    except DatabaseError:
                        pass  # still down: the next checks report UNKNOWN
                    else:
                        ctx = CheckContext(target, conn, settings, config, now)
                        outcome = _run_one(check, ctx)
                elapsed = (time.perf_counter() - begun) * 1000
                if check.name == connectivity.NAME:
                    elapsed += connect_ms
                results.append(_result(target, check.name, outcome, elapsed))
    finally:
        conn.close()
    return results


def _run_one(check: HealthCheck, ctx: CheckContext) -> Outcome:
    result = run_check(check, ctx, dsn=ctx.target.dsn, logger=logger)
    if result.failure is not None:
        return could_not_check(result.failure)
    return result.output


def could_not_check(failure: Failure) -> Outcome:
    """A check that raised is UNKNOWN, not CRITICAL: monitoring neither pages nor resolves an alert
    on what it could not see (the validate suite FAILs instead: a gate fails closed)."""
    if failure.kind is FailureKind.INTERNAL:
        return Outcome(f"could not check: internal error ({failure.error_type})", unknown=True)
    return Outcome(f"could not check: {failure.message}", unknown=True)


def _result(target: DatabaseTarget, name: str, outcome: Outcome, elapsed_ms: float) -> CheckResult:
    return CheckResult(
        database=target.name, check=name, status=status_of(outcome), summary=outcome.summary,
        observed_value=outcome.observed_value, observed_unit=outcome.observed_unit,
        duration_ms=elapsed_ms, problem=outcome.problem,
    )


__all__ = ["CheckStatus", "check_database", "could_not_check", "open_check_connection"]

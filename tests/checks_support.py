"""Helpers for the check tests: run one check (or every check) against a real database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from migration_guard.tasks.settings import load_settings
from migration_guard.tasks.alerts.model import utcnow
from migration_guard.tasks.checks.check import Check
from migration_guard.tasks.healthcheck.base import CheckContext, CheckResult, status_of
from migration_guard.tasks.healthcheck.target import DatabaseTarget
from migration_guard.tasks.healthcheck.config import HealthcheckConfig
from migration_guard.tasks.healthcheck.runner import check_database, open_check_connection


def config_with(**thresholds: Any) -> HealthcheckConfig:
    return HealthcheckConfig.model_validate({"thresholds": thresholds})


def run_one(check: Check, dsn: str, config: HealthcheckConfig | None = None, *, name: str = "app",
            settings: Any = None, **target: Any) -> CheckResult:
    """Run a single check through the runner (same connection options, same error handling)."""
    settings = settings or load_settings(database_url=dsn)
    config = config or HealthcheckConfig()
    results = check_database(DatabaseTarget(name=name, dsn=dsn, **target), settings, config, checks=[check])
    assert len(results) == 1, results
    return results[0]


def outcome_of(check: Check, dsn: str, config: HealthcheckConfig | None = None, **target: Any):
    """The check's Outcome, called directly (exceptions propagate: for tests of check code)."""
    settings = load_settings(database_url=dsn)
    target_obj = DatabaseTarget(name="app", dsn=dsn, **target)
    conn = open_check_connection(target_obj, settings)
    try:
        outcome = check.run(CheckContext(target_obj, conn, settings, config or HealthcheckConfig(), utcnow()))
    finally:
        conn.close()
    return outcome, status_of(outcome)


@contextmanager
def background_statement(dsn: str, statement: str) -> Iterator[int]:
    """Run ``statement`` in another session (in a thread); yield that session's pid; cancel at exit."""
    conn = psycopg.connect(dsn, autocommit=True)
    pid = conn.info.backend_pid
    errors: list[BaseException] = []

    def work() -> None:
        try:
            conn.execute(statement)
        except psycopg.Error as exc:  # cancelled at exit
            errors.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        yield pid
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_cancel_backend(%s)", (pid,))
        thread.join(timeout=10)
        conn.close()

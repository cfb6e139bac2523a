"""A long statement is not silent: while it runs, migrate logs a progress line at a fixed interval
(every 10 s by default), naming the statement."""

from __future__ import annotations

import logging

import psycopg
import pytest

from migration_guard.tasks.migrate import execute


def test_a_long_statement_gets_progress_lines(db_url: str, monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(execute, "PROGRESS_EVERY_S", 0.5)
    log = logging.getLogger("migration_guard.migrate.test_progress")
    caplog.set_level(logging.INFO, logger=log.name)
    with psycopg.connect(db_url, autocommit=True) as conn:
        execute.run_statements(conn, "SELECT 1;\nSELECT pg_sleep(1.6);\n", lock_timeout="500ms",
                               statement_timeout="0", retry_budget_s=5, transactional=True, logger=log)
    progress = [r.getMessage() for r in caplog.records if "still running after" in r.getMessage()]
    assert len(progress) >= 2, progress
    assert all(line.startswith("statement 2 (line 2) still running after") for line in progress), progress

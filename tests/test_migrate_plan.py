"""Plain logic of safe-migrate, no database: preparing migrations (modes, re-runnable rewrites,
segments), which validation failures block, and the report rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from migration_guard.tasks.errors import MigrationFileError
from migration_guard.tasks.migrate.apply import _segments, is_resumable, prepare_migration, STEP_MODE_MARKER
from migration_guard.tasks.migrate.report import artifact_key, report_markdown
from migration_guard.tasks.migrate.rerunnable import step_for
from migration_guard.tasks.models import LedgerEntry, Migration
from migration_guard.tasks.sql.statements import split_statements


def migration(sql: str, name: str = "20240101000000_x") -> Migration:
    return Migration(name=name, path=Path(f"/m/{name}/migration.sql"), sql=sql, checksum="c" * 64)


def test_transactional_migration_ignores_begin_commit() -> None:
    prepared = prepare_migration(migration("BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\n"))
    assert prepared.transactional and prepared.mode == "transaction"
    assert [s.sql for s in prepared.steps] == ["CREATE TABLE a (id int)"]
    assert any("BEGIN/COMMIT" in n for n in prepared.notes)


def test_concurrent_statements_are_rewritten_and_grouped() -> None:
    prepared = prepare_migration(migration(
        "CREATE TABLE a (id int);\nALTER TABLE a ADD COLUMN b int;\n"
        "CREATE INDEX CONCURRENTLY a_b ON a (b);\nDROP INDEX CONCURRENTLY old_idx;\nCREATE TABLE c (id int);\n"))
    assert not prepared.transactional
    assert [s.sql for s in prepared.steps][2:4] == [
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_b ON a (b)", "DROP INDEX CONCURRENTLY IF EXISTS old_idx"]
    assert _segments(prepared.steps) == [(0, 2, True), (2, 3, False), (3, 4, False), (4, 5, True)]


def test_unnamed_concurrent_index_is_flagged_and_parse_errors_refused() -> None:
    (statement,) = split_statements("CREATE INDEX CONCURRENTLY ON t (a)")
    assert "name the index" in step_for(statement).warning
    with pytest.raises(MigrationFileError, match=r"migration.sql:2:\d+"):
        prepare_migration(migration("CREATE TABLE a (id int);\nCREATE TABLE (;\n"))


def test_only_our_step_mode_rows_are_resumable() -> None:
    m = migration("CREATE INDEX CONCURRENTLY i ON t (a);")
    ours = LedgerEntry("1", m.name, m.checksum, None, None, None, 0, f"{STEP_MODE_MARKER} in progress")  # type: ignore[arg-type]
    prismas = LedgerEntry("2", m.name, m.checksum, None, None, None, 0, "P3018 error")  # type: ignore[arg-type]
    edited = LedgerEntry("3", m.name, "d" * 64, None, None, None, 1, f"{STEP_MODE_MARKER} failed")  # type: ignore[arg-type]
    assert is_resumable(ours, m) and not is_resumable(prismas, m) and not is_resumable(edited, m)


def test_report_markdown_names_recovery_commands_and_rollback_choices() -> None:
    report = {
        "target": "db:5432/shop", "ok": False, "failed_stage": "startup-check", "summary": "FAILED at startup-check: x",
        "recovery": ["backup to restore if needed: migration-guard backup restore /b/shop.dump --replace --yes"],
        "rollback_choices": ["restore the pre-migrate backup: migration-guard backup restore /b/shop.dump --replace --yes",
                             "fix forward: add a new migration that corrects it, then: migration-guard migrate"],
        "timings": {"apply": 0.5}, "restored": None,
        "apply": {"lock_waited_s": 1.25, "lock_holders_seen": ["pid 7 (...)"], "migrations": [
            {"name": "m1", "mode": "transaction", "ok": True, "steps_done": 2, "total_steps": 2, "elapsed_s": 0.1,
             "attempts": 3, "ledger_state": "applied", "lock_waits": ["statement 1: lock not granted"], "cleanups": []}]},
    }
    text = report_markdown(report)
    assert "failed at **startup-check**" in text
    assert "`migration-guard backup restore /b/shop.dump --replace --yes`" in text
    assert "1. restore the pre-migrate backup" in text and "2. fix forward" in text
    assert "waited 1.25s (held by pid 7" in text and "statement 1: lock not granted" in text
    assert artifact_key("127.0.0.1:5432/My_Shop") == "safe-migrate-my-shop"

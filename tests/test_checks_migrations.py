"""migrations check: failed / modified (HIGH), missing locally / pending past grace (MEDIUM)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psycopg

from migration_guard.tasks.healthcheck.checks import migrations
from migration_guard.tasks.healthcheck.base import CheckStatus
from migration_guard.tasks.ledgers.prisma import PrismaLedger
from tests.checks_support import config_with, run_one
from tests.helpers import make_prisma_project

INIT = "20240101000000_init"


def _apply(db: psycopg.Connection, directory: Path, *names: str) -> PrismaLedger:
    ledger = PrismaLedger(directory)
    ledger.ensure_table(db)
    for migration in ledger.read_migrations():
        if migration.name in names:
            db.execute(migration.sql)
            ledger.mark_applied(db, migration)
    return ledger


def test_all_applied_passes(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    directory = make_prisma_project(tmp_path, {INIT: "CREATE TABLE a (id int);"})
    _apply(db, directory, INIT)

    result = run_one(migrations.CHECK, db_url, migrations_dir=directory)

    assert result.status is CheckStatus.OK, result.summary


def test_failed_migration_is_high(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    directory = make_prisma_project(tmp_path, {INIT: "CREATE TABLE a (id int);", "20240102000000_b": "SELECT 1;"})
    ledger = _apply(db, directory, INIT)
    failed = [m for m in ledger.read_migrations() if m.name == "20240102000000_b"][0]
    entry = ledger.record_started(db, failed)
    ledger.record_failed(db, entry, "ERROR: column does not exist")

    result = run_one(migrations.CHECK, db_url, migrations_dir=directory)

    assert result.status is CheckStatus.CRITICAL
    assert result.problem.category == "DATABASE_MIGRATION"
    assert "20240102000000_b" in result.problem.title
    assert any(s.startswith("migration-guard recover") for s in result.problem.suggestions)


def test_modified_after_apply_is_high(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    directory = make_prisma_project(tmp_path, {INIT: "CREATE TABLE a (id int);"})
    _apply(db, directory, INIT)
    (directory / INIT / "migration.sql").write_text("CREATE TABLE a (id bigint);")

    result = run_one(migrations.CHECK, db_url, migrations_dir=directory)

    assert result.status is CheckStatus.CRITICAL
    assert "modified" in result.summary


def test_pending_past_grace_is_medium_within_grace_ok(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    directory = make_prisma_project(tmp_path, {INIT: "CREATE TABLE a (id int);", "20200101000000_old": "SELECT 1;"})
    _apply(db, directory, INIT)

    just_deployed = run_one(migrations.CHECK, db_url, migrations_dir=directory)  # old name, file new on this host
    file = directory / "20200101000000_old" / "migration.sql"
    week_ago = time.time() - 7 * 86400
    os.utime(file, (week_ago, week_ago))
    late = run_one(migrations.CHECK, db_url, migrations_dir=directory)
    (directory / "20200101000000_old").rename(directory / "29990101000000_future")
    within = run_one(migrations.CHECK, db_url, config_with(pending_migration_grace="1h"), migrations_dir=directory)

    assert just_deployed.status is CheckStatus.OK, just_deployed.summary
    assert late.status is CheckStatus.WARNING and late.problem.severity == "MEDIUM"
    assert "pending for 7d" in late.problem.message
    assert within.status is CheckStatus.OK


def test_missing_locally_is_medium(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    directory = make_prisma_project(tmp_path, {INIT: "CREATE TABLE a (id int);"})
    _apply(db, directory, INIT)
    (directory / INIT / "migration.sql").unlink()
    (directory / INIT).rmdir()

    result = run_one(migrations.CHECK, db_url, migrations_dir=directory)

    assert result.status is CheckStatus.WARNING
    assert "missing_locally" in result.summary

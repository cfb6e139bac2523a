"""migration-guard and the real Prisma CLI (7.10, ../shared/prisma-harness) agree on the ledger.

Each test writes the ledger with one tool and reads it with the other, on the same database.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.settings import load_settings
from migration_guard.tasks.errors import LedgerError
from migration_guard.tasks.models import State
from migration_guard.tasks.project import Project
from migration_guard.tasks.status.pipeline import read_status
from tests.helpers import make_prisma_project

pytestmark = pytest.mark.prisma

INIT = "20240101000000_init"
BROKEN = "20240102000000_broken"
NEXT = "20240103000000_next"


def prisma(cli: Path, project_root: Path, db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db_url}
    return subprocess.run([str(cli), *args], cwd=project_root, env=env, capture_output=True, text=True, timeout=120)


def mg_status(db_url: str, migrations_dir: Path) -> dict[str, State]:
    report = read_status(Project.from_settings(load_settings(database_url=db_url, migrations_dir=migrations_dir)))
    return {s.name: s.state for s in report.statuses}


def ledger_of(db_url: str, migrations_dir: Path):
    return Project.from_settings(load_settings(database_url=db_url, migrations_dir=migrations_dir)).ledger


def test_prisma_deploy_is_read_as_applied_and_failed(prisma_cli: Path, tmp_path: Path, db_url: str) -> None:
    migrations = make_prisma_project(
        tmp_path, {INIT: "CREATE TABLE a (id int);\n", BROKEN: "CREATE TABLE b (id int);\nSELECT 1/0;\n"}
    )

    deployed = prisma(prisma_cli, tmp_path, db_url, "migrate", "deploy")

    assert deployed.returncode != 0
    assert mg_status(db_url, migrations) == {INIT: State.APPLIED, BROKEN: State.FAILED}
    status = prisma(prisma_cli, tmp_path, db_url, "migrate", "status")
    assert status.returncode == 1 and BROKEN in status.stdout + status.stderr


def test_prisma_resolve_is_read_as_rolled_back_then_applied(prisma_cli: Path, tmp_path: Path, db_url: str) -> None:
    migrations = make_prisma_project(tmp_path, {BROKEN: "SELECT 1/0;\n"})
    prisma(prisma_cli, tmp_path, db_url, "migrate", "deploy")

    assert prisma(prisma_cli, tmp_path, db_url, "migrate", "resolve", "--rolled-back", BROKEN).returncode == 0
    assert mg_status(db_url, migrations) == {BROKEN: State.ROLLED_BACK}

    prisma(prisma_cli, tmp_path, db_url, "migrate", "deploy")  # fails again: a second failed row
    assert prisma(prisma_cli, tmp_path, db_url, "migrate", "resolve", "--applied", BROKEN).returncode == 0
    assert mg_status(db_url, migrations) == {BROKEN: State.APPLIED}


def test_rows_written_by_migration_guard_satisfy_prisma(prisma_cli: Path, tmp_path: Path, db_url: str) -> None:
    migrations = make_prisma_project(tmp_path, {INIT: "CREATE TABLE a (id int);\n", NEXT: "CREATE TABLE c (id int);\n"})
    ledger = ledger_of(db_url, migrations)
    with psycopg.connect(db_url, autocommit=True) as conn:
        ledger.ensure_table(conn)
        for migration in ledger.read_migrations():
            with conn.transaction():
                entry = ledger.record_started(conn, migration)
                conn.execute(migration.sql)
                ledger.record_finished(conn, entry)

    status = prisma(prisma_cli, tmp_path, db_url, "migrate", "status")
    deploy = prisma(prisma_cli, tmp_path, db_url, "migrate", "deploy")

    assert status.returncode == 0, status.stdout + status.stderr
    assert "Database schema is up to date" in status.stdout
    assert deploy.returncode == 0 and "No pending migrations to apply" in deploy.stdout


def test_failed_row_written_by_migration_guard_blocks_prisma_deploy(prisma_cli: Path, tmp_path: Path, db_url: str) -> None:
    migrations = make_prisma_project(tmp_path, {BROKEN: "CREATE TABLE b (id int);\n"})
    ledger = ledger_of(db_url, migrations)
    with psycopg.connect(db_url, autocommit=True) as conn:
        ledger.ensure_table(conn)
        (migration,) = ledger.read_migrations()
        ledger.record_failed(conn, ledger.record_started(conn, migration), "boom")

    status = prisma(prisma_cli, tmp_path, db_url, "migrate", "status")
    deploy = prisma(prisma_cli, tmp_path, db_url, "migrate", "deploy")

    assert status.returncode == 1 and "failed" in (status.stdout + status.stderr)
    assert deploy.returncode != 0 and "P3009" in deploy.stdout + deploy.stderr


def test_mark_rolled_back_by_migration_guard_lets_prisma_reapply(prisma_cli: Path, tmp_path: Path, db_url: str) -> None:
    migrations = make_prisma_project(tmp_path, {BROKEN: "CREATE TABLE b (id int);\n"})
    ledger = ledger_of(db_url, migrations)
    with psycopg.connect(db_url, autocommit=True) as conn:
        ledger.ensure_table(conn)
        (migration,) = ledger.read_migrations()
        ledger.record_failed(conn, ledger.record_started(conn, migration), "boom")
        ledger.mark_rolled_back(conn, BROKEN)

    deploy = prisma(prisma_cli, tmp_path, db_url, "migrate", "deploy")

    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert mg_status(db_url, migrations) == {BROKEN: State.APPLIED}
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT count(*), count(rolled_back_at), count(finished_at) FROM _prisma_migrations"
        ).fetchone()
    assert rows == (2, 1, 1)


def test_mark_applied_by_migration_guard_matches_prisma_resolve(prisma_cli: Path, tmp_path: Path, db_url: str) -> None:
    migrations = make_prisma_project(tmp_path, {BROKEN: "CREATE TABLE b (id int);\n"})
    ledger = ledger_of(db_url, migrations)
    with psycopg.connect(db_url, autocommit=True) as conn:
        ledger.ensure_table(conn)
        (migration,) = ledger.read_migrations()
        ledger.record_failed(conn, ledger.record_started(conn, migration), "boom")
        ledger.mark_applied(conn, migration)
        ours = conn.execute(
            "SELECT applied_steps_count, logs, started_at = finished_at FROM _prisma_migrations "
            "WHERE rolled_back_at IS NULL"
        ).fetchone()

    status = prisma(prisma_cli, tmp_path, db_url, "migrate", "status")
    again = prisma(prisma_cli, tmp_path, db_url, "migrate", "resolve", "--applied", BROKEN)

    assert status.returncode == 0, status.stdout + status.stderr
    assert again.returncode != 0 and "P3008" in again.stdout + again.stderr
    assert ours == (0, "", True)
    with psycopg.connect(db_url, autocommit=True) as conn, pytest.raises(LedgerError, match="P3008"):
        ledger.mark_applied(conn, migration)


def test_resolve_errors_match_prisma(prisma_cli: Path, tmp_path: Path, db_url: str) -> None:
    migrations = make_prisma_project(tmp_path, {INIT: "CREATE TABLE a (id int);\n"})
    ledger = ledger_of(db_url, migrations)

    with psycopg.connect(db_url, autocommit=True) as conn:
        ledger.ensure_table(conn)  # Prisma accepts the table migration-guard creates
    never = prisma(prisma_cli, tmp_path, db_url, "migrate", "resolve", "--rolled-back", INIT)
    assert "P3011" in never.stdout + never.stderr
    with psycopg.connect(db_url, autocommit=True) as conn:
        with pytest.raises(LedgerError, match="P3011"):
            ledger.mark_rolled_back(conn, INIT)

    prisma(prisma_cli, tmp_path, db_url, "migrate", "deploy")
    applied = prisma(prisma_cli, tmp_path, db_url, "migrate", "resolve", "--rolled-back", INIT)
    assert "P3012" in applied.stdout + applied.stderr
    with psycopg.connect(db_url, autocommit=True) as conn, pytest.raises(LedgerError, match="P3012"):
        ledger.mark_rolled_back(conn, INIT)


def test_modified_and_missing_locally_are_reported_where_prisma_is_silent(
    prisma_cli: Path, tmp_path: Path, db_url: str
) -> None:
    migrations = make_prisma_project(tmp_path, {INIT: "CREATE TABLE a (id int);\n", NEXT: "CREATE TABLE c (id int);\n"})
    assert prisma(prisma_cli, tmp_path, db_url, "migrate", "deploy").returncode == 0
    (migrations / INIT / "migration.sql").write_text("CREATE TABLE a (id bigint);\n")
    for child in (migrations / NEXT).iterdir():
        child.unlink()
    (migrations / NEXT).rmdir()

    assert mg_status(db_url, migrations) == {INIT: State.MODIFIED, NEXT: State.MISSING_LOCALLY}
    assert prisma(prisma_cli, tmp_path, db_url, "migrate", "status").returncode == 0

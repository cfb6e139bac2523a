"""Status: all six states, for Prisma and SQL-folder projects, against a real database."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import psycopg.sql
import pytest

from migration_guard.tasks.settings import load_settings
from migration_guard.tasks.models import State
from migration_guard.tasks.project import Project
from migration_guard.tasks.status.pipeline import read_status
from tests.helpers import make_prisma_project, make_sql_project, run_cli

MIGRATIONS = {
    "20240101000000_applied": "CREATE TABLE a (id int);\n",
    "20240102000000_modified": "CREATE TABLE b (id int);\n",
    "20240103000000_failed": "CREATE TABLE c (id int);\n",
    "20240104000000_rolled_back": "CREATE TABLE d (id int);\n",
    "20240105000000_pending": "CREATE TABLE e (id int);\n",
}


def _project(tmp_path: Path, db_url: str, tool: str) -> Project:
    if tool == "prisma":
        directory = make_prisma_project(tmp_path, MIGRATIONS)
    else:
        directory = make_sql_project(tmp_path, MIGRATIONS)
    return Project.from_settings(load_settings(database_url=db_url, migrations_dir=directory))


def _arrange_all_states(project: Project, db_url: str) -> None:
    ledger = project.ledger
    migrations = {m.name: m for m in ledger.read_migrations()}
    with psycopg.connect(db_url, autocommit=True) as conn:
        ledger.ensure_table(conn)
        for name in ("20240101000000_applied", "20240102000000_modified"):
            ledger.record_finished(conn, ledger.record_started(conn, migrations[name]))
        failed_id = ledger.record_started(conn, migrations["20240103000000_failed"])
        ledger.record_failed(conn, failed_id, "boom")
        ledger.record_started(conn, migrations["20240104000000_rolled_back"])
        ledger.mark_rolled_back(conn, "20240104000000_rolled_back")
        ghost = migrations["20240101000000_applied"].__class__(
            name="20231231000000_ghost", path=Path("gone"), sql="", checksum="0" * 64
        )
        ledger.record_finished(conn, ledger.record_started(conn, ghost))
    modified = migrations["20240102000000_modified"].path
    modified.write_text("CREATE TABLE b (id bigint);\n")


@pytest.mark.parametrize("tool", ["prisma", "sql"])
def test_status_reports_all_six_states(tmp_path: Path, db_url: str, tool: str) -> None:
    project = _project(tmp_path, db_url, tool)
    _arrange_all_states(project, db_url)

    report = read_status(project)

    states = {s.name: s.state for s in report.statuses}
    assert states == {
        "20231231000000_ghost": State.MISSING_LOCALLY,
        "20240101000000_applied": State.APPLIED,
        "20240102000000_modified": State.MODIFIED,
        "20240103000000_failed": State.FAILED,
        "20240104000000_rolled_back": State.ROLLED_BACK,
        "20240105000000_pending": State.PENDING,
    }
    assert report.exit_code == 2
    failed = next(s for s in report.statuses if s.state is State.FAILED)
    assert "migration-guard recover" in failed.suggestion


@pytest.mark.parametrize("tool", ["prisma", "sql"])
def test_status_exit_codes_follow_the_worst_state(tmp_path: Path, db_url: str, tool: str) -> None:
    project = _project(tmp_path, db_url, tool)
    directory = str(project.migrations_dir)
    env = {"DATABASE_URL": db_url, "MIGRATIONS_DIR": directory}

    assert run_cli(["status"], env).exit_code == 1  # everything pending

    with psycopg.connect(db_url, autocommit=True) as conn:
        project.ledger.ensure_table(conn)
        for migration in project.ledger.read_migrations():
            project.ledger.record_finished(conn, project.ledger.record_started(conn, migration))
    result = run_cli(["status", "--json"], env)
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["summary"]["applied"] == len(MIGRATIONS)
    assert data["exit_code"] == 0


def test_crlf_only_change_is_not_a_modification(tmp_path: Path, db_url: str) -> None:
    directory = make_prisma_project(tmp_path, {"20240101000000_init": "CREATE TABLE a (id int);\nSELECT 1;\n"})
    project = Project.from_settings(load_settings(database_url=db_url, migrations_dir=directory))
    with psycopg.connect(db_url, autocommit=True) as conn:
        project.ledger.ensure_table(conn)
        (migration,) = project.ledger.read_migrations()
        project.ledger.record_finished(conn, project.ledger.record_started(conn, migration))
    migration.path.write_bytes(b"CREATE TABLE a (id int);\r\nSELECT 1;\r\n")

    report = read_status(project)

    assert [s.state for s in report.statuses] == [State.APPLIED]


def test_applied_after_failed_attempt_counts_as_applied(tmp_path: Path, db_url: str) -> None:
    directory = make_prisma_project(tmp_path, {"20240101000000_init": "CREATE TABLE a (id int);\n"})
    project = Project.from_settings(load_settings(database_url=db_url, migrations_dir=directory))
    with psycopg.connect(db_url, autocommit=True) as conn:
        ledger = project.ledger
        ledger.ensure_table(conn)
        (migration,) = ledger.read_migrations()
        ledger.record_failed(conn, ledger.record_started(conn, migration), "first try failed")
        ledger.mark_applied(conn, migration)

    report = read_status(project)

    assert [s.state for s in report.statuses] == [State.APPLIED]
    assert len(report.statuses[0].entries) == 2


def test_hostile_schema_name_is_quoted_not_executed(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    hostile = 'we"ird; DROP TABLE keep; --'
    db.execute("CREATE TABLE keep (id int)")
    db.execute(psycopg.sql.SQL("CREATE SCHEMA {}").format(psycopg.sql.Identifier(hostile)))
    directory = make_prisma_project(tmp_path, {"20240101000000_init": "SELECT 1;\n"})
    project = Project.from_settings(load_settings(database_url=db_url, migrations_dir=directory, DB_SCHEMA=hostile))
    with psycopg.connect(db_url, autocommit=True) as conn:
        project.ledger.ensure_table(conn)
        (migration,) = project.ledger.read_migrations()
        project.ledger.record_finished(conn, project.ledger.record_started(conn, migration))

    report = read_status(project)

    assert [s.state for s in report.statuses] == [State.APPLIED]
    assert db.execute("SELECT to_regclass('keep') IS NOT NULL").fetchone() == (True,)
    assert report.ledger_table == f"{hostile}._prisma_migrations"


@pytest.mark.parametrize("schema", ["app", "with space", 'q"uote\\slash'])
def test_project_sessions_start_in_the_configured_schema(tmp_path: Path, db_url: str, db: psycopg.Connection, schema: str) -> None:
    db.execute(psycopg.sql.SQL("CREATE SCHEMA {}").format(psycopg.sql.Identifier(schema)))
    directory = make_prisma_project(tmp_path, {"20240101000000_init": "SELECT 1;\n"})
    project = Project.from_settings(load_settings(database_url=db_url, migrations_dir=directory, DB_SCHEMA=schema))

    with psycopg.connect(project.dsn) as conn:
        conn.execute("CREATE TABLE placed (id int)")
        where = conn.execute("SELECT schemaname FROM pg_tables WHERE tablename = 'placed'").fetchone()

    assert where == (schema,)


def test_a_rolled_back_migration_whose_file_was_removed_is_not_pending(tmp_path: Path, db_url: str) -> None:
    """After `recover --mode rollback` the developer deletes the broken migration (as Prisma's docs
    say): nothing will apply it again, so status is clean (exit 0) and does not advise `migrate`."""
    directory = make_prisma_project(tmp_path, {"20240101000000_init": "CREATE TABLE a (id int);\n",
                                               "20240102000000_broken": "CREATE TABLE b (id int);\n"})
    project = Project.from_settings(load_settings(database_url=db_url, migrations_dir=directory))
    init, broken = project.ledger.read_migrations()
    with psycopg.connect(db_url, autocommit=True) as conn:
        project.ledger.ensure_table(conn)
        project.ledger.record_finished(conn, project.ledger.record_started(conn, init))
        project.ledger.record_failed(conn, project.ledger.record_started(conn, broken), "boom")
        project.ledger.mark_rolled_back(conn, broken.name)
    kept = read_status(project)
    (broken.path).unlink()
    broken.path.parent.rmdir()

    removed = read_status(project)
    shown = run_cli(["status"], env={"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(directory)})

    assert [s.name for s in kept.pending] == [broken.name] and kept.exit_code == 1
    assert [s.state for s in removed.statuses] == [State.APPLIED, State.ROLLED_BACK]
    assert removed.pending == [] and removed.exit_code == 0
    assert shown.exit_code == 0, shown.output
    assert "migration-guard migrate" not in shown.output, shown.output

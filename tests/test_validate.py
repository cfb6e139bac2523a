"""Each validation check passes on a healthy database and fails on the real condition, created
for real here: an idle-in-transaction session, a conflicting lock, a held migration lock, an
INVALID index, a failed migration, a role without privileges, an unreachable server."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from migration_guard.tasks.settings import load_settings
from migration_guard.tasks.project import Project
from migration_guard.tasks.validate import (
    CheckStatus,
    ValidationContext,
    ValidationOptions,
    ValidationReport,
    run_validation,
)
from tests.helpers import make_sql_project

PENDING = {"001_add_note": "ALTER TABLE items ADD COLUMN note text;\n"}


@pytest.fixture
def app_db(db: psycopg.Connection, db_url: str) -> str:
    db.execute("CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 50) g;"
               "CREATE TABLE other (id int)")
    return db_url


def validate(url: str, tmp_path: Path, migrations: dict[str, str] | None = None, **options: object) -> ValidationReport:
    folder = make_sql_project(tmp_path, migrations if migrations is not None else PENDING)
    settings = load_settings(database_url=url, migrations_dir=folder, backup_dir=tmp_path / "backups")
    opts = {"backup": False, **options}
    return run_validation(ValidationContext(Project.from_settings(settings), ValidationOptions(**opts)))


def status_of(report: ValidationReport, name: str) -> CheckStatus:
    check = report.get(name)
    assert check is not None, name
    return check.status


@pytest.fixture
def other_session(app_db: str) -> Iterator[psycopg.Connection]:
    conn = psycopg.connect(app_db, application_name="blocker-app")
    yield conn
    conn.close()


def test_healthy_database_passes_every_check_and_takes_a_verified_backup(app_db: str, tmp_path: Path) -> None:
    report = validate(app_db, tmp_path, backup=True)

    assert report.ok and report.exit_code == 0, [c.to_dict() for c in report.checks if c.status is not CheckStatus.PASS]
    assert [c.status for c in report.checks] == [CheckStatus.PASS] * len(report.checks)
    backup = report.get("backup")
    assert backup is not None and backup.data["verify"]["data_readable"]
    assert Path(backup.data["backup"]["path"]).exists()
    assert report.backup is not None and report.backup["reason"] == "pre-migrate"
    assert json.loads(json.dumps(report.to_dict()))["ok"] is True
    assert report.get("ledger").data["pending"] == ["001_add_note"]


def test_unreachable_database_fails_connectivity_and_skips_the_rest(tmp_path: Path) -> None:
    report = validate("postgresql://postgres@127.0.0.1:1/nowhere", tmp_path)

    assert status_of(report, "connectivity") is CheckStatus.FAIL
    assert "refused" in report.get("connectivity").reason
    assert {c.status for c in report.checks[1:]} == {CheckStatus.SKIP}
    assert report.exit_code == 1


def test_idle_in_transaction_session_on_an_untouched_table_warns(app_db: str, tmp_path: Path, other_session: psycopg.Connection) -> None:
    # issue 19: it does not stand in the migration's way, so it WARNs (it FAILed before)
    other_session.execute("SELECT count(*) FROM other")  # opens a transaction, then sits idle
    time.sleep(0.3)

    report = validate(app_db, tmp_path, idle_in_transaction_seconds=0.2, backup=True)

    check = report.get("transactions")
    assert check.status is CheckStatus.WARN
    assert f"pid {other_session.info.backend_pid}" in check.details[0]
    assert "blocker-app" in check.details[0] and "idle in transaction" in check.details[0]
    assert "pg_terminate_backend" in check.fix
    assert "on no table the migrations touch" in check.reason
    assert status_of(report, "backup") is CheckStatus.PASS
    assert report.ok


def test_long_transaction_warns_and_strict_fails(app_db: str, tmp_path: Path, other_session: psycopg.Connection) -> None:
    other_session.execute("SELECT 1")
    time.sleep(0.3)

    lenient = validate(app_db, tmp_path, idle_in_transaction_seconds=3600, long_transaction_seconds=0.2)
    strict = validate(app_db, tmp_path / "s", idle_in_transaction_seconds=3600, long_transaction_seconds=0.2, strict=True)

    assert status_of(lenient, "transactions") is CheckStatus.WARN and lenient.ok
    assert not strict.ok and strict.exit_code == 1


def test_conflicting_lock_on_a_touched_table_warns(app_db: str, tmp_path: Path, other_session: psycopg.Connection) -> None:
    # issue 19: apply waits it out in bounded attempts, so it WARNs (it FAILed before)
    other_session.execute("SELECT * FROM items LIMIT 1")  # ACCESS SHARE, conflicts with ALTER TABLE

    report = validate(app_db, tmp_path, idle_in_transaction_seconds=3600, lock_min_age_seconds=0)

    check = report.get("table-locks")
    assert check.status is CheckStatus.WARN
    assert check.data["locks"][0]["table"] == "public.items"
    assert check.data["locks"][0]["pid"] == other_session.info.backend_pid
    assert "AccessShareLock held by pid" in check.details[0] and "ACCESS EXCLUSIVE" in check.details[0]


def test_lock_on_an_untouched_table_passes(app_db: str, tmp_path: Path, other_session: psycopg.Connection) -> None:
    other_session.execute("LOCK TABLE other IN ACCESS EXCLUSIVE MODE")

    report = validate(app_db, tmp_path, idle_in_transaction_seconds=3600, lock_min_age_seconds=0)

    assert status_of(report, "table-locks") is CheckStatus.PASS


def test_held_migration_advisory_lock_fails(app_db: str, tmp_path: Path) -> None:
    from migration_guard.tasks.ledgers.sqldir import SqlDirLedger

    with psycopg.connect(app_db, autocommit=True, application_name="other-migrator") as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (SqlDirLedger.lock_key,))
        report = validate(app_db, tmp_path)
        pid = holder.info.backend_pid

    check = report.get("advisory-lock")
    assert check.status is CheckStatus.FAIL
    assert f"pid {pid}" in check.details[0] and "other-migrator" in check.details[0]
    assert validate(app_db, tmp_path / "after").get("advisory-lock").status is CheckStatus.PASS


def test_invalid_index_fails_with_the_drop_statement(app_db: str, db: psycopg.Connection, tmp_path: Path) -> None:
    db.execute("INSERT INTO other VALUES (1), (1)")
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute("CREATE UNIQUE INDEX CONCURRENTLY other_id_key ON other (id)")

    check = validate(app_db, tmp_path).get("invalid-indexes")

    assert check.status is CheckStatus.FAIL
    assert "public.other_id_key on other" in check.details[0]
    assert 'DROP INDEX CONCURRENTLY "public"."other_id_key";' in check.fix


def test_failed_migration_in_the_ledger_fails(app_db: str, tmp_path: Path) -> None:
    folder = make_sql_project(tmp_path, {"000_base": "CREATE TABLE base (id int);", **PENDING})
    project = Project.from_settings(load_settings(database_url=app_db, migrations_dir=folder))
    migration = project.ledger.read_migrations()[0]
    with psycopg.connect(app_db, autocommit=True) as conn:
        project.ledger.ensure_table(conn)
        project.ledger.record_started(conn, migration)

    report = validate(app_db, tmp_path, {"000_base": "CREATE TABLE base (id int);", **PENDING})

    check = report.get("ledger")
    assert check.status is CheckStatus.FAIL
    assert check.details[0].startswith("000_base: failed")
    assert "migration-guard recover" in check.fix


def test_lint_error_in_a_pending_migration_fails(app_db: str, tmp_path: Path) -> None:
    report = validate(app_db, tmp_path, {"001_broken": "ALTER TABLE items ADD COLUMN;\n"})

    check = report.get("lint")
    assert check.status is CheckStatus.FAIL, check
    assert "lint error" in check.reason and "001_broken" in check.reason
    assert any("syntax" in d for d in check.details)


@pytest.fixture
def limited_role(app_db: str, db: psycopg.Connection) -> Iterator[str]:
    role = f"mg_limited_{uuid.uuid4().hex[:8]}"
    db.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    yield role
    db.execute(sql.SQL("REVOKE ALL ON SCHEMA public FROM {}").format(sql.Identifier(role)))
    db.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))  # also revokes its other privileges
    db.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_role_without_create_on_the_schema_fails(app_db: str, tmp_path: Path, limited_role: str) -> None:
    as_role = psycopg.conninfo.make_conninfo(app_db, user=limited_role)

    check = validate(as_role, tmp_path).get("privileges")

    assert check.status is CheckStatus.FAIL
    assert f"role {limited_role} cannot create objects in schema public" in check.reason
    assert f'GRANT USAGE, CREATE ON SCHEMA "public" TO "{limited_role}"' in check.fix


def test_role_that_does_not_own_a_touched_table_fails(app_db: str, db: psycopg.Connection, tmp_path: Path, limited_role: str) -> None:
    db.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(sql.Identifier(limited_role)))
    # the ledger's schema is writable (without it every case fails: the ledger could not be created)
    db.execute(sql.SQL("CREATE SCHEMA migration_guard; GRANT USAGE, CREATE ON SCHEMA migration_guard TO {}").format(
        sql.Identifier(limited_role)))
    as_role = psycopg.conninfo.make_conninfo(app_db, user=limited_role)

    touching = validate(as_role, tmp_path).get("privileges")
    creating_only = validate(as_role, tmp_path / "c", {"001_new": "CREATE TABLE fresh (id int);"}).get("privileges")
    writing_only = validate(as_role, tmp_path / "w", {"001_fill": "INSERT INTO items VALUES (1000, 'x');"}).get("privileges")

    assert touching.status is CheckStatus.FAIL
    assert touching.details == ("public.items (owner postgres)",)
    assert creating_only.status is CheckStatus.PASS
    assert writing_only.status is CheckStatus.PASS  # DML needs privileges, not ownership


def test_no_room_for_a_backup_fails(app_db: str, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    folder = make_sql_project(tmp_path, PENDING)
    settings = load_settings(database_url=app_db, migrations_dir=folder, backup_dir=blocker / "backups")

    report = run_validation(ValidationContext(Project.from_settings(settings), ValidationOptions(backup=True)))

    assert status_of(report, "backup-room") is CheckStatus.FAIL
    assert "cannot create the backup folder" in report.get("backup-room").reason
    assert status_of(report, "backup") is CheckStatus.SKIP


def test_backup_that_cannot_lock_a_table_fails_and_names_it(app_db: str, tmp_path: Path,
                                                            other_session: psycopg.Connection) -> None:
    other_session.execute("LOCK TABLE other IN ACCESS EXCLUSIVE MODE")  # not touched by the migrations

    report = validate(app_db, tmp_path, backup=True, idle_in_transaction_seconds=3600,
                      backup_lock_wait_timeout="300ms")

    check = report.get("backup")
    assert check.status is CheckStatus.FAIL
    assert "could not lock a table" in check.reason and "LOCK TABLE public.other" in check.reason
    assert not any(p.suffix in {".dump", ".dumpdir"} for p in (tmp_path / "backups").iterdir())


def test_server_that_never_answers_fails_connectivity_within_the_timeout(tmp_path: Path) -> None:
    import socket

    with socket.socket() as silent:  # accepts TCP connections (backlog) but never speaks PostgreSQL
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        folder = make_sql_project(tmp_path, PENDING)
        settings = load_settings(database_url=f"postgresql://postgres@127.0.0.1:{port}/app", migrations_dir=folder,
                                 connect_timeout=2)
        started = time.monotonic()
        report = run_validation(ValidationContext(Project.from_settings(settings), ValidationOptions(backup=False)))
        elapsed = time.monotonic() - started

    assert status_of(report, "connectivity") is CheckStatus.FAIL
    assert "timed out after 2 s" in report.get("connectivity").reason
    assert f"127.0.0.1:{port}" in report.get("connectivity").reason
    assert elapsed < 10

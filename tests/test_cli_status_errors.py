"""Bad input to `migration-guard status`: one-line error, exit 3, no traceback, no password."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import add_prisma_migration, make_prisma_project, run_cli_process
from tests.pg_server import free_port, with_database

SECRET = "Xk7-distinctive-password"


def _assert_one_line_error(result, exit_code: int = 3) -> None:
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, result.stderr
    assert SECRET not in result.output



@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_prisma_project(tmp_path, {"20240101000000_init": "CREATE TABLE a (id int);\n"})


def test_unreachable_host(project: Path) -> None:
    url = f"postgresql://app:{SECRET}@127.0.0.1:{free_port()}/app"
    result = run_cli_process(["status"], {"DATABASE_URL": url, "MIGRATIONS_DIR": str(project)})
    _assert_one_line_error(result)
    assert "connection refused" in result.stderr
    assert "pg_isready" in result.stderr


def test_unknown_host(project: Path) -> None:
    url = f"postgresql://app:{SECRET}@db.invalid:5432/app"
    result = run_cli_process(["status"], {"DATABASE_URL": url, "MIGRATIONS_DIR": str(project)})
    _assert_one_line_error(result)
    assert "cannot resolve host" in result.stderr


def test_wrong_password(project: Path, password_server) -> None:
    result = run_cli_process(
        ["status"], {"DATABASE_URL": password_server.url(password=SECRET), "MIGRATIONS_DIR": str(project)}
    )
    _assert_one_line_error(result)
    assert "password authentication failed" in result.stderr


def test_missing_database(project: Path, db_url: str) -> None:
    url = with_database(db_url, "mg_missing_db")
    result = run_cli_process(["status", "--database-url", url, "--migrations-dir", str(project)])
    _assert_one_line_error(result)
    assert "does not exist" in result.stderr and "createdb" in result.stderr


def test_missing_migrations_folder(tmp_path: Path, db_url: str) -> None:
    result = run_cli_process(["-d", db_url, "-m", str(tmp_path / "nope"), "status"])
    _assert_one_line_error(result)
    assert "MIGRATIONS_DIR" in result.stderr and "does not exist" in result.stderr


def test_unreadable_migration_file(project: Path, db_url: str) -> None:
    broken = project / "20240102000000_broken" / "migration.sql"
    broken.parent.mkdir()
    broken.symlink_to(project / "does-not-exist.sql")
    result = run_cli_process(["-d", db_url, "-m", str(project), "status"])
    _assert_one_line_error(result)
    assert "cannot read" in result.stderr and "20240102000000_broken" in result.stderr


def test_non_utf8_migration_file(project: Path, db_url: str) -> None:
    add_prisma_migration(project, "20240102000000_latin1", "INSERT INTO a VALUES (1); -- café\n".encode("latin-1"))
    result = run_cli_process(["-d", db_url, "-m", str(project), "status"])
    _assert_one_line_error(result)
    assert "not valid UTF-8" in result.stderr and "line 1" in result.stderr


def test_folder_without_migration_sql(project: Path, db_url: str) -> None:
    (project / "20240102000000_empty").mkdir()
    result = run_cli_process(["-d", db_url, "-m", str(project), "status"])
    _assert_one_line_error(result)
    assert "has no migration.sql" in result.stderr


def test_unknown_migration_tool(project: Path, db_url: str) -> None:
    result = run_cli_process(["status"], {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(project), "MIGRATION_TOOL": "liquibase"})
    _assert_one_line_error(result)
    assert "MIGRATION_TOOL" in result.stderr


def test_database_url_not_set(project: Path) -> None:
    result = run_cli_process(["-m", str(project), "status"])
    _assert_one_line_error(result)
    assert "DATABASE_URL is not set" in result.stderr


def test_every_command_has_help() -> None:
    result = run_cli_process(["--help"])
    assert result.exit_code == 0
    assert "status" in result.stdout
    status_help = run_cli_process(["status", "--help"])
    assert "Exit codes" in status_help.stdout

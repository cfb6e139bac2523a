"""Configurations that cannot be right are refused in one line saying which to fix, instead of
silently reading the wrong ledger ("no migrations — up to date" on a Prisma folder read as sql)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import make_prisma_project, make_sql_project, run_cli

PRISMA = {"20240101000000_init": "CREATE TABLE t (id int);\n"}
SQL = {"0001_init": "CREATE TABLE t (id int);\n"}


def _text(result) -> str:
    return " ".join((result.stdout + result.stderr).split())


@pytest.mark.parametrize("command, config_exit", [(["status"], 3), (["migrate", "--dry-run"], 2), (["validate"], 2)])
def test_a_prisma_folder_read_as_sql_is_refused(command: list[str], config_exit: int, tmp_path: Path, db_url: str) -> None:
    migrations = make_prisma_project(tmp_path, PRISMA)
    result = run_cli(command, env={"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(migrations), "MIGRATION_TOOL": "sql"})
    assert result.exit_code == config_exit, _text(result)
    assert "MIGRATION_TOOL=sql, but" in _text(result) and "set MIGRATION_TOOL=prisma" in _text(result)
    assert "up to date" not in _text(result)


def test_a_sql_folder_read_as_prisma_is_refused(tmp_path: Path, db_url: str) -> None:
    migrations = make_sql_project(tmp_path, SQL)
    result = run_cli(["status"], env={"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(migrations), "MIGRATION_TOOL": "prisma"})
    assert result.exit_code == 3
    assert "MIGRATION_TOOL=prisma, but" in _text(result) and "set MIGRATION_TOOL=sql" in _text(result)


def test_the_right_tool_named_explicitly_still_works(tmp_path: Path, db_url: str) -> None:
    migrations = make_prisma_project(tmp_path, PRISMA)
    result = run_cli(["status"], env={"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(migrations), "MIGRATION_TOOL": "prisma"})
    assert result.exit_code == 1 and "20240101000000_init" in result.stdout


def test_db_schema_disagreeing_with_the_url_schema_is_refused(tmp_path: Path, db_url: str) -> None:
    migrations = make_prisma_project(tmp_path, PRISMA)
    url = f"{db_url}?schema=public"
    result = run_cli(["status"], env={"DATABASE_URL": url, "MIGRATIONS_DIR": str(migrations), "DB_SCHEMA": "other"})
    assert result.exit_code == 3
    text = _text(result)
    assert "DB_SCHEMA=other disagrees with ?schema=public" in text and "unset DB_SCHEMA" in text


def test_db_schema_agreeing_with_the_url_schema_is_fine(tmp_path: Path, db_url: str) -> None:
    migrations = make_prisma_project(tmp_path, PRISMA)
    result = run_cli(["status"], env={"DATABASE_URL": f"{db_url}?schema=public", "MIGRATIONS_DIR": str(migrations),
                                      "DB_SCHEMA": "public"})
    assert result.exit_code == 1, _text(result)


def test_migrations_dir_pointing_at_one_prisma_migration_is_refused(tmp_path: Path, db_url: str) -> None:
    migrations = make_prisma_project(tmp_path, {**PRISMA, "20240102000000_more": "SELECT 1;\n"})
    result = run_cli(["migrate", "--dry-run"], env={"DATABASE_URL": db_url,
                                                   "MIGRATIONS_DIR": str(migrations / "20240102000000_more")})
    assert result.exit_code == 2
    text = _text(result)
    assert "is one Prisma migration" in text and f"export MIGRATIONS_DIR={migrations}" in text


def test_migrations_dir_pointing_at_the_prisma_folder_is_refused(tmp_path: Path, db_url: str) -> None:
    migrations = make_prisma_project(tmp_path, PRISMA)
    result = run_cli(["status"], env={"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(migrations.parent),
                                      "MIGRATION_TOOL": "prisma"})
    assert result.exit_code == 3
    text = _text(result)
    assert f"export MIGRATIONS_DIR={migrations}" in text and "delete" not in text

"""`migration-guard validate`: table, --json, exit codes 0 / 1 / 2, --strict."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg

from tests.helpers import make_sql_project, run_cli


def _env(db_url: str, tmp_path: Path, migrations: dict[str, str]) -> dict[str, str]:
    folder = make_sql_project(tmp_path, migrations)
    return {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(folder), "BACKUP_DIR": str(tmp_path / "backups")}


def test_all_pass_exits_0_and_takes_a_backup(db: psycopg.Connection, db_url: str, tmp_path: Path) -> None:
    db.execute("CREATE TABLE items (id int)")
    env = _env(db_url, tmp_path, {"001": "ALTER TABLE items ADD COLUMN note text;"})

    result = run_cli(["validate"], env=env)

    assert result.exit_code == 0, result.output
    assert "Verified backup" in result.stdout and "safe to migrate" in result.stdout
    assert len(list((tmp_path / "backups").glob("*-validate.json"))) == 1


def test_json_report_and_exit_1_on_a_failure(db: psycopg.Connection, db_url: str, tmp_path: Path) -> None:
    db.execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1), (1)")
    try:
        db.execute("CREATE UNIQUE INDEX CONCURRENTLY t_id ON t (id)")
    except psycopg.errors.UniqueViolation:
        pass
    env = _env(db_url, tmp_path, {"001": "CREATE TABLE fresh (id int);"})

    result = run_cli(["validate", "--json"], env=env)

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    by_name = {c["name"]: c for c in report["checks"]}
    assert report["ok"] is False and report["exit_code"] == 1
    assert by_name["invalid-indexes"]["status"] == "FAIL"
    assert by_name["backup"]["status"] == "SKIP"
    assert not (tmp_path / "backups").exists() or not list((tmp_path / "backups").iterdir())


def test_warn_passes_unless_strict(db: psycopg.Connection, db_url: str, tmp_path: Path) -> None:
    env = _env(db_url, tmp_path, {"001": "CREATE TABLE fresh (id int);"})
    with psycopg.connect(db_url) as other:
        other.execute("SELECT 1")
        time.sleep(0.3)
        args = ["validate", "--no-backup", "--idle-seconds", "3600", "--long-transaction-seconds", "0.2"]
        lenient = run_cli(args, env=env)
        strict = run_cli([*args, "--strict"], env=env)

    assert lenient.exit_code == 0, lenient.output
    assert "WARN" in lenient.stdout
    assert strict.exit_code == 1


def test_bad_configuration_exits_2(tmp_path: Path) -> None:
    result = run_cli(["validate"], env={"MIGRATIONS_DIR": str(tmp_path)})

    assert result.exit_code == 2
    assert "DATABASE_URL" in result.stderr and "Traceback" not in result.output


def test_unreachable_database_exits_1_with_the_reason(tmp_path: Path) -> None:
    env = _env("postgresql://app:s3cret-pw@127.0.0.1:1/app", tmp_path, {"001": "SELECT 1;"})

    result = run_cli(["validate"], env=env)

    assert result.exit_code == 1
    assert "refused" in result.stdout
    assert "s3cret-pw" not in result.output

"""`migration-guard backup create | list | verify | restore` end to end (real pg_dump)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from migration_guard.tasks.backup.scratch import drop_database
from tests.helpers import run_cli


def _seed(db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 300) g")


def test_create_list_verify(db: psycopg.Connection, db_url: str, tmp_path: Path) -> None:
    _seed(db)
    env = {"DATABASE_URL": db_url, "BACKUP_DIR": str(tmp_path / "b")}

    created = run_cli(["backup", "create", "--reason", "pre-migrate", "--json"], env=env)
    listed = run_cli(["backup", "list", "--json"], env=env)
    verified = run_cli(["backup", "verify", "--restore-check"], env=env)

    assert created.exit_code == 0, created.output
    data = json.loads(created.stdout)
    assert data["reason"] == "pre-migrate" and data["verify"]["data_readable"] is True
    assert listed.exit_code == 0 and [b["path"] for b in json.loads(listed.stdout)] == [data["path"]]
    assert verified.exit_code == 0, verified.output
    assert "300 rows" in verified.stdout


def test_verify_truncated_dump_exits_1_with_one_line(db: psycopg.Connection, db_url: str, tmp_path: Path) -> None:
    _seed(db)
    env = {"DATABASE_URL": db_url, "BACKUP_DIR": str(tmp_path)}
    created = json.loads(run_cli(["backup", "create", "--no-verify", "--json"], env=env).stdout)
    path = Path(created["path"])
    path.write_bytes(path.read_bytes()[:-500])

    result = run_cli(["backup", "verify", str(path)], env=env)

    assert result.exit_code == 1
    assert "error:" in result.stderr and "truncated" in result.stderr
    assert "Traceback" not in result.output


def test_restore_over_live_database_needs_yes_and_says_what_it_replaces(db: psycopg.Connection, db_url: str, tmp_path: Path) -> None:
    _seed(db)
    env = {"DATABASE_URL": db_url, "BACKUP_DIR": str(tmp_path)}
    path = json.loads(run_cli(["backup", "create", "--json"], env=env).stdout)["path"]
    db.execute("DELETE FROM items WHERE id > 10")

    refused = run_cli(["backup", "restore", path, "--replace"], env=env)
    rows_after_refusal = db.execute("SELECT count(*) FROM items").fetchone()[0]
    done = run_cli(["backup", "restore", path, "--replace", "--yes"], env=env)

    assert refused.exit_code == 2
    assert "replace table public.items (its 10 current row(s)" in refused.stdout
    assert "needs --yes" in refused.stderr
    assert rows_after_refusal == 10
    assert done.exit_code == 0, done.output
    assert db.execute("SELECT count(*) FROM items").fetchone()[0] == 300


def test_restore_into_new_database(db: psycopg.Connection, db_url: str, tmp_path: Path, pg_admin_url: str) -> None:
    _seed(db)
    env = {"DATABASE_URL": db_url, "BACKUP_DIR": str(tmp_path)}
    path = json.loads(run_cli(["backup", "create", "--json"], env=env).stdout)["path"]
    name = f"mg_cli_restore_{tmp_path.name[-8:]}".lower().replace("-", "_")
    try:
        result = run_cli(["backup", "restore", path, "--into", name, "--json"], env=env)
    finally:
        drop_database(pg_admin_url, name)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["database"] == name


def test_bad_usage_exits_2(db_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": db_url, "BACKUP_DIR": str(tmp_path)}

    assert run_cli(["backup", "create", "--format", "zip"], env=env).exit_code == 2
    assert run_cli(["backup", "verify"], env=env).exit_code == 2  # no backups yet
    missing = run_cli(["backup", "create"], env={"BACKUP_DIR": str(tmp_path)})
    assert missing.exit_code == 2 and "DATABASE_URL" in missing.stderr

"""Backups against the real PostgreSQL with the real pg_dump / pg_restore: create, metadata,
verify (truncated and corrupt dumps), restore-check row counts, restore, retention."""

from __future__ import annotations

import json
import os
import stat
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.backup import (
    BackupCorruptError,
    BackupInfo,
    BackupMismatchError,
    apply_retention,
    create_backup,
    list_backups,
    read_metadata,
    restore_backup,
    select_expired,
    verify_backup,
)
from migration_guard.tasks.backup.scratch import drop_database, dsn_for_database
from migration_guard.tasks.backup.metadata import write_metadata

SEED = """
CREATE TABLE customers (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, created_at timestamptz DEFAULT now());
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint REFERENCES customers(id), total numeric(12,2),
                     note text, payload bytea);
CREATE SCHEMA billing;
CREATE TABLE billing.invoices (id int PRIMARY KEY, amount int);
INSERT INTO customers (email) SELECT 'user' || g || '@example.com' FROM generate_series(1, 1500) g;
INSERT INTO orders (customer_id, total, note, payload)
  SELECT 1 + g % 1500, (g * 7 % 1000) / 3.0, md5(g::text), decode(md5((g * 13)::text), 'hex') FROM generate_series(1, 4000) g;
INSERT INTO billing.invoices SELECT g, g * 10 FROM generate_series(1, 250) g;
CREATE TABLE empty_table (id int);
"""

EXPECTED_ROWS = {"billing.invoices": 250, "public.customers": 1500, "public.empty_table": 0, "public.orders": 4000}


@pytest.fixture
def seeded(db: psycopg.Connection, db_url: str) -> str:
    db.execute(SEED)
    return db_url


@pytest.mark.parametrize("fmt", ["custom", "directory"])
def test_backup_restores_to_identical_row_counts(seeded: str, tmp_path: Path, fmt: str) -> None:
    info = create_backup(seeded, tmp_path / "backups", reason="pre-migrate", migration_head="20240101_init", fmt=fmt)

    result = verify_backup(info.path, restore_check=True, dsn=seeded)

    assert result.restore_checked and result.checksum_ok and result.data_readable
    assert result.table_rows == EXPECTED_ROWS
    stored = read_metadata(info.path)
    assert stored is not None and stored.verified and stored.verify_level == "restore-check"
    assert stored.table_rows == EXPECTED_ROWS


@pytest.mark.serial  # compares every mg_verify_* database on the server
def test_scratch_database_is_dropped_after_restore_check(seeded: str, tmp_path: Path, db: psycopg.Connection) -> None:
    info = create_backup(seeded, tmp_path, reason="manual")
    before = {r[0] for r in db.execute("SELECT datname FROM pg_database WHERE datname LIKE 'mg_verify_%'")}

    verify_backup(info.path, restore_check=True, dsn=seeded)

    after = {r[0] for r in db.execute("SELECT datname FROM pg_database WHERE datname LIKE 'mg_verify_%'")}
    assert after <= before


def test_backup_metadata_modes_and_names(seeded: str, tmp_path: Path) -> None:
    folder = tmp_path / "new" / "backups"
    info = create_backup(seeded, folder, reason="pre-migrate", migration_head="0003_add_orders")

    assert info.path.exists() and info.path.suffix == ".dump" and info.format == "custom"
    assert "pre-migrate" in info.path.name and info.database in info.path.name
    assert stat.S_IMODE(info.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(info.metadata_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    meta = json.loads(info.metadata_path.read_text())
    assert meta["kind"] == "migration-guard-backup"
    assert meta["path"] == info.path.name
    assert meta["sha256"] == info.sha256 and len(info.sha256) == 64
    assert meta["size_bytes"] == info.path.stat().st_size
    assert meta["migration_head"] == "0003_add_orders" and meta["reason"] == "pre-migrate"
    assert meta["server_version"].startswith("15") or meta["server_version"][0].isdigit()
    assert meta["tool_version"][0].isdigit() and meta["duration_s"] > 0
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


def test_directory_backup_is_private_and_parallel(seeded: str, tmp_path: Path) -> None:
    info = create_backup(seeded, tmp_path, reason="manual", fmt="directory", jobs=2)

    assert info.path.is_dir() and info.format == "directory" and info.jobs == 2
    assert stat.S_IMODE(info.path.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in info.path.iterdir())


def test_password_goes_through_the_environment_only(seeded: str, tmp_path: Path) -> None:
    from migration_guard.tasks.backup.client import client_connection

    with_password = seeded.replace("postgres@", "postgres:Sup3r-s3cret@", 1)
    client = client_connection(with_password)

    assert "Sup3r-s3cret" not in client.conninfo
    assert client.env["PGPASSWORD"] == "Sup3r-s3cret"
    info = create_backup(with_password, tmp_path, reason="manual")  # trust auth ignores the password
    assert "Sup3r-s3cret" not in info.metadata_path.read_text()


def test_truncated_dump_fails_verify_with_a_clear_message(seeded: str, tmp_path: Path) -> None:
    info = create_backup(seeded, tmp_path, reason="manual")
    size = info.path.stat().st_size
    with open(info.path, "r+b") as handle:
        handle.truncate(size // 2)

    with pytest.raises(BackupCorruptError) as caught:
        verify_backup(info.path)

    assert info.path.name in caught.value.message
    assert "truncated" in caught.value.message
    assert caught.value.suggestion


def test_truncated_dump_without_metadata_fails_on_reading_the_data(seeded: str, tmp_path: Path) -> None:
    info = create_backup(seeded, tmp_path, reason="manual")
    info.metadata_path.unlink()
    with open(info.path, "r+b") as handle:
        handle.truncate(info.path.stat().st_size - 20_000)

    with pytest.raises(BackupCorruptError) as caught:
        verify_backup(info.path)

    assert "truncated or damaged" in caught.value.message


def test_garbage_file_is_not_an_archive(tmp_path: Path) -> None:
    bogus = tmp_path / "x.dump"
    bogus.write_bytes(b"this is not a pg_dump archive\n" * 10)

    with pytest.raises(BackupCorruptError) as caught:
        verify_backup(bogus)

    assert "not a readable archive" in caught.value.message


def test_corrupt_file_in_directory_dump_is_detected(seeded: str, tmp_path: Path) -> None:
    info = create_backup(seeded, tmp_path, reason="manual", fmt="directory")
    data_file = max((p for p in info.path.iterdir() if p.name != "toc.dat"), key=lambda p: p.stat().st_size)
    data_file.write_bytes(data_file.read_bytes()[:100])

    with pytest.raises(BackupCorruptError):
        verify_backup(info.path)


def test_restore_check_reports_rows_changed_since_the_backup(seeded: str, tmp_path: Path, db: psycopg.Connection) -> None:
    info = create_backup(seeded, tmp_path, reason="manual")
    db.execute("DELETE FROM billing.invoices WHERE id <= 10")

    with pytest.raises(BackupMismatchError) as caught:
        verify_backup(info.path, restore_check=True, dsn=seeded)

    assert caught.value.mismatches == [("billing.invoices", 250, 240)]
    assert "billing.invoices: backup 250, source 240" in caught.value.message


def test_restore_into_a_new_database(seeded: str, tmp_path: Path, pg_admin_url: str) -> None:
    info = create_backup(seeded, tmp_path, reason="manual")
    name = f"mg_restored_{os.getpid()}"
    try:
        result = restore_backup(info.path, seeded, into_new_database=name)
        with psycopg.connect(dsn_for_database(seeded, name)) as conn:
            count = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
    finally:
        drop_database(pg_admin_url, name)

    assert result.database == name and not result.replaced_existing
    assert result.tables == 4
    assert count == 4000


def test_restore_over_the_live_database_replaces_the_backed_up_tables(seeded: str, tmp_path: Path, db: psycopg.Connection) -> None:
    from migration_guard.tasks.backup import plan_restore

    info = create_backup(seeded, tmp_path, reason="manual")
    db.execute("DELETE FROM orders WHERE id > 100; CREATE TABLE added_later (id int)")

    plan = plan_restore(info.path, seeded)
    result = restore_backup(info.path, seeded, replace_existing=True)

    assert plan.replaced_tables["public.orders"] == 100
    assert "public.added_later" in plan.untouched_tables
    assert any("replace table public.orders (its 100 current row(s)" in line for line in plan.describe())
    assert result.replaced_existing
    assert db.execute("SELECT count(*) FROM orders").fetchone()[0] == 4000
    assert db.execute("SELECT to_regclass('public.added_later') IS NOT NULL").fetchone()[0]


def test_list_backups_newest_first(seeded: str, tmp_path: Path) -> None:
    first = create_backup(seeded, tmp_path, reason="first")
    second = create_backup(seeded, tmp_path, reason="second")
    (tmp_path / "notes.json").write_text('{"not": "a backup"}')

    listed = list_backups(tmp_path)

    assert [b.path for b in listed] == [second.path, first.path]
    assert listed[0].reason == "second"


def _info(tmp_path: Path, name: str, age_days: float, now: datetime) -> BackupInfo:
    path = tmp_path / f"{name}.dump"
    path.write_bytes(b"x")
    info = BackupInfo(path=path, database="db", created_at=now - timedelta(days=age_days), size_bytes=1, sha256="0" * 64,
                      reason="manual")
    write_metadata(info)
    return info


def test_retention_keeps_last_n_and_recent_ones(tmp_path: Path) -> None:
    now = datetime(2026, 1, 31, tzinfo=timezone.utc)
    ages = {"a": 0.5, "b": 2, "c": 10, "d": 20, "e": 40}
    infos = {name: _info(tmp_path, name, age, now) for name, age in ages.items()}

    assert {i.path.stem for i in select_expired(list(infos.values()), keep_last=2, keep_days=7, now=now)} == {"c", "d", "e"}
    deleted = apply_retention(tmp_path, keep_last=3, keep_days=7, now=now)

    assert sorted(p.stem for p in deleted) == ["d", "e"]
    assert sorted(b.path.stem for b in list_backups(tmp_path)) == ["a", "b", "c"]
    assert not (tmp_path / "d.json").exists() and not (tmp_path / "e.dump").exists()


def test_retention_removes_partial_dumps_left_by_a_killed_process(tmp_path: Path) -> None:
    old = tmp_path / ".db-20260101T000000.000Z-manual.dump.partial"
    running = tmp_path / ".db-20260131T000000.000Z-manual.dump.partial"
    old.write_bytes(b"x")
    running.write_bytes(b"x")
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))

    deleted = apply_retention(tmp_path, keep_last=1, keep_days=1)

    assert deleted == [old]
    assert running.exists() and not old.exists()


@pytest.mark.serial  # counts the server's migration-guard-backup sessions
def test_interrupted_dump_leaves_nothing_and_no_pg_dump_process(seeded: str, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import migration_guard.tasks.backup.create as create_module

    monkeypatch.setattr(create_module, "PROGRESS_TICK_SECONDS", 0.001)
    calls = []

    def interrupt(update: object) -> None:
        calls.append(update)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        create_backup(seeded, tmp_path, reason="manual", fmt="directory", progress=interrupt)

    assert calls, "the progress callback was never called"
    assert list(tmp_path.iterdir()) == []
    deadline = time.monotonic() + 5  # backends end asynchronously after their client is gone
    with psycopg.connect(seeded, autocommit=True) as conn:
        while True:
            dumping = conn.execute("SELECT count(*) FROM pg_stat_activity "
                                   "WHERE application_name = 'migration-guard-backup'").fetchone()[0]
            if dumping == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert dumping == 0

"""A WAL restore point beside each backup when the server archives WAL, on a private cluster with
``archive_command`` copying to a folder: recorded (name, LSN, time) while the archive is current,
a warning and no restore point once archiving fails, nothing at all with archive_mode off; and a
point-in-time recovery of a base backup to the recorded restore point gives the pre-change data."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.backup import create_backup, list_backups, read_metadata
from tests.helpers import make_prisma_project, run_cli
from tests.pg_server import PrivateClusters, free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def archiving_server() -> Iterator[tuple[str, PrivateClusters, Path, Path]]:
    """(admin URL, clusters, data folder, WAL archive folder) of a cluster archiving WAL with cp."""
    try:
        clusters = PrivateClusters("mg-archive-")
    except RuntimeError:
        pytest.skip("needs PostgreSQL server binaries (initdb, pg_ctl)")
    data, archive, port = clusters.root / "data", clusters.root / "archive", free_port()
    try:
        archive.mkdir()
        clusters.own(archive)
        clusters.run("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync")
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(f"\nwal_level = replica\narchive_mode = on\narchive_command = 'cp %p {archive}/%f'\n"
                       "archive_timeout = 0\n")
        clusters.start(data, port)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres", clusters, data, archive
    finally:
        clusters.stop()


def _archive_one_segment(conn: psycopg.Connection, want_failure: bool = False) -> None:
    """Switch WAL and wait until the archiver has succeeded (or failed) with the finished segment."""
    before = conn.execute("SELECT archived_count, failed_count FROM pg_stat_archiver").fetchone()
    conn.execute("CREATE TABLE IF NOT EXISTS wal_ticks (at timestamptz); INSERT INTO wal_ticks VALUES (now())")
    conn.execute("SELECT pg_switch_wal()")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = conn.execute("SELECT archived_count, failed_count FROM pg_stat_archiver").fetchone()
        if (now[1] > before[1]) if want_failure else (now[0] > before[0]):
            return
        time.sleep(0.2)
    raise AssertionError(f"the archiver did not {'fail' if want_failure else 'archive'} within 60 s")


def test_the_text_reports_of_backup_and_migrate_print_the_restore_point(archiving_server, tmp_path: Path) -> None:
    url, _clusters, _data, _archive = archiving_server
    with psycopg.connect(url, autocommit=True) as conn:
        _archive_one_segment(conn)
    migrations = make_prisma_project(tmp_path, {"20240101000000_init": "CREATE TABLE notes (id int PRIMARY KEY);"})
    env = {"DATABASE_URL": url, "MIGRATIONS_DIR": str(migrations), "BACKUP_DIR": str(tmp_path / "backups"),
           "ALERTS_DIR": str(tmp_path / "alerts")}

    created = run_cli(["backup", "create", "--no-verify"], env=env)
    migrated = run_cli(["migrate"], env=env)

    assert created.exit_code == 0 and migrated.exit_code == 0, created.output + migrated.output
    points = [info.restore_point for info in list_backups(tmp_path / "backups")]
    assert all(points) and len(points) == 2
    for output in (created.stdout, migrated.stdout):
        text = " ".join(output.split())  # the console may wrap long lines
        point = next(p for p in points if f"LSN {p['lsn']}" in text)
        assert f"LSN {point['lsn']}, {point['created_at']}" in text
        assert f"recovery_target_name = '{point['name']}'" in text  # the postgresql.conf line, as printed


def test_restore_point_recorded_then_warning_when_archiving_fails(archiving_server, tmp_path: Path) -> None:
    url, clusters, data, archive = archiving_server
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int)")
        conn.execute("INSERT INTO accounts SELECT g, 100 FROM generate_series(1, 50) g")
        _archive_one_segment(conn)
        base = clusters.root / "base"
        clusters.run("pg_basebackup", "-h", "127.0.0.1", "-p", url.split(":")[2].split("/")[0], "-U", "postgres",
                     "-D", str(base), "--no-sync", "-X", "none")

        info = create_backup(url, tmp_path, reason="pre-migrate")

        point = info.restore_point
        assert point is not None and point["name"].startswith("migration-guard pre-migrate ")
        assert point["lsn"] and "/" in point["lsn"] and point["created_at"]
        assert read_metadata(info.path).restore_point == point  # in the metadata file beside the dump
        conn.execute("UPDATE accounts SET balance = 0")  # the "migration" after the backup
        _archive_one_segment(conn)  # the restore point's segment reaches the archive

        conn.execute("ALTER SYSTEM SET archive_command = 'false'")
        conn.execute("SELECT pg_reload_conf()")
        time.sleep(0.5)
        _archive_one_segment(conn, want_failure=True)
        failing = create_backup(url, tmp_path, reason="pre-migrate")
        assert failing.restore_point is None
        assert any("WAL archiving is configured" in w and "but failing" in w for w in failing.warnings), failing.warnings
        conn.execute("ALTER SYSTEM RESET archive_command")
        conn.execute("SELECT pg_reload_conf()")

    _recover_to(clusters, base, archive, point["name"])


def _recover_to(clusters: PrivateClusters, base: Path, archive: Path, name: str) -> None:
    """Point-in-time recovery of the base backup to the restore point: the pre-change balances."""
    with open(base / "postgresql.conf", "a") as conf:
        conf.write(f"\narchive_mode = off\nrestore_command = 'cp {archive}/%f %p'\nrecovery_target_name = '{name}'\n"
                   "recovery_target_action = 'promote'\n")
    clusters.own(base / "postgresql.conf")
    signal = base / "recovery.signal"
    signal.write_text("")
    clusters.own(signal)
    port = free_port()
    clusters.start(base, port)
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
        deadline = time.monotonic() + 60
        while conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert conn.execute("SELECT sum(balance), count(*) FROM accounts").fetchone() == (5000, 50)


def test_no_restore_point_without_archiving(db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url) as conn:
        mode = conn.execute("SHOW archive_mode").fetchone()[0]
    if mode != "off":
        pytest.skip("the shared test server archives WAL")

    info = create_backup(db_url, tmp_path, reason="manual")

    assert info.restore_point is None and info.warnings == []

"""Client tool discovery and the plain decisions: format plan, size estimate, file names."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from migration_guard.tasks.backup import BackupToolError
from migration_guard.tasks.backup.create import backup_name
from migration_guard.tasks.backup.sizing import MiB, SourceSize, estimate_dump_bytes, plan_dump
from migration_guard.tasks.backup.tools import available_tools, find_tools


def test_finds_client_tools_at_least_the_server_major() -> None:
    installed = available_tools()
    assert installed, "pg_dump and pg_restore must be installed for the backup tests"
    major = min(t.major for t in installed)

    tools = find_tools(major)

    assert tools.major >= major and tools.pg_dump.name == "pg_dump" and tools.pg_restore.name == "pg_restore"


def test_no_tool_new_enough_names_the_server_version_and_what_to_install() -> None:
    with pytest.raises(BackupToolError) as caught:
        find_tools(99, "99.1")

    assert "server is PostgreSQL 99.1" in caught.value.message
    assert "an older pg_dump cannot dump a newer server" in caught.value.message
    assert "postgresql-client-99" in caught.value.suggestion


def test_pg_bin_dir_without_tools_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PG_BIN_DIR", str(tmp_path))
    assert all(t.pg_dump.parent != tmp_path for t in available_tools())


def _source(data_mib: float, tables: int = 10) -> SourceSize:
    return SourceSize("app", int(data_mib * 2 * MiB), int(data_mib * MiB), tables, "15.4", 15)


def test_small_databases_get_one_custom_file() -> None:
    plan = plan_dump(_source(5))
    assert (plan.format, plan.jobs, plan.compression) == ("custom", 1, 1)
    assert plan.pg_dump_args() == ["--format=custom", "--compress=1"]


def test_large_databases_get_parallel_directory_dumps() -> None:
    plan = plan_dump(_source(500), cpu_count=4)
    assert (plan.format, plan.jobs, plan.compression) == ("directory", 4, 1)
    assert "--jobs=4" in plan.pg_dump_args()


def test_two_core_machines_skip_compression_for_large_dumps() -> None:
    plan = plan_dump(_source(500), cpu_count=2)
    assert (plan.format, plan.jobs, plan.compression) == ("directory", 2, 0)
    assert plan_dump(_source(500), cpu_count=2, compression=1).compression == 1


def test_jobs_never_exceed_the_tables_and_overrides_win() -> None:
    assert plan_dump(_source(500, tables=1), cpu_count=8).jobs == 1
    assert plan_dump(_source(500), fmt="custom").format == "custom"
    assert plan_dump(_source(1), fmt="directory", jobs=3, compression=0).pg_dump_args() == [
        "--format=directory", "--jobs=3", "--compress=0"]


def test_estimate_is_conservative_for_uncompressed_dumps() -> None:
    source = _source(100)
    assert estimate_dump_bytes(source, plan_dump(source, compression=0)) >= 100 * MiB
    assert estimate_dump_bytes(source, plan_dump(source, compression=1)) < 100 * MiB


def test_backup_names_are_safe_file_names() -> None:
    when = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=timezone.utc)
    assert backup_name("my app/db", when, "pre migrate!") == "my_app_db-20260304T050607.890Z-pre-migrate"


def test_create_backup_refuses_tools_older_than_the_server(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import migration_guard.tasks.backup.tools as tools_module
    from migration_guard.tasks.backup import create_backup

    old_bin = tmp_path / "11" / "bin"
    old_bin.mkdir(parents=True)
    for name in ("pg_dump", "pg_restore"):
        script = old_bin / name
        script.write_text(f"#!/bin/sh\necho '{name} (PostgreSQL) 11.22'\n")
        script.chmod(0o755)
    monkeypatch.setattr(tools_module, "DEBIAN_ROOT", tmp_path)
    monkeypatch.setenv("PATH", str(old_bin))
    monkeypatch.delenv("PG_BIN_DIR", raising=False)

    with pytest.raises(BackupToolError) as caught:
        create_backup(db_url, tmp_path / "backups", reason="manual")

    import psycopg

    with psycopg.connect(db_url) as conn:
        server_version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
    assert f"server is PostgreSQL {server_version}" in caught.value.message
    assert "found 11.22 at" in caught.value.message
    assert not (tmp_path / "backups").exists() or not list((tmp_path / "backups").iterdir())


def test_archive_listing_is_parsed_by_kind() -> None:
    from migration_guard.tasks.backup.restore import archive_objects

    listing = """;
; Archive created at 2026-11-24 04:30:00 UTC
;     dbname: app
216; 1259 16390 TABLE public orders postgres
3344; 0 16390 TABLE DATA public orders postgres
3200; 2606 16400 CONSTRAINT public orders orders_pkey postgres
3201; 2606 16401 FK CONSTRAINT public orders orders_customer_id_fkey postgres
215; 1259 16389 SEQUENCE public orders_id_seq postgres
3360; 0 0 SEQUENCE SET public orders_id_seq postgres
3100; 1259 16500 INDEX public orders_note_idx postgres
"""
    objects = archive_objects(listing)

    assert [(o.kind, o.schema) for o in objects] == [
        ("TABLE", "public"), ("TABLE DATA", "public"), ("CONSTRAINT", "public"), ("FK CONSTRAINT", "public"),
        ("SEQUENCE", "public"), ("SEQUENCE SET", "public"), ("INDEX", "public")]
    assert objects[0].name == "orders" and objects[2].name == "orders orders_pkey"

"""How big a dump will be, which format to use, and whether the disk has room (plain logic plus
one catalog query)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import psycopg

from migration_guard.tasks.backup.errors import BackupError, BackupSpaceError

MiB = 1 << 20
#: below this much table data a single custom-format file is as fast as anything and simpler
DIRECTORY_THRESHOLD_BYTES = 64 * MiB
#: at or below this many cores, large directory dumps are not compressed (see plan_dump)
LOW_CORE_COUNT = 2
#: expected dump size / table data size, by gzip level (0 = none); conservative for 2:1 data
SIZE_RATIO = {0: 1.0, 1: 0.65}
DEFAULT_SIZE_RATIO = 0.6
#: free space kept beyond the estimate (10 % + 16 MiB)
SPACE_MARGIN = 1.10
SPACE_SLACK_BYTES = 16 * MiB


@dataclass(frozen=True)
class SourceSize:
    """What the catalog says about the database to dump."""

    database: str
    database_bytes: int  # pg_database_size (indexes included)
    data_bytes: int  # heap + TOAST pages of user tables (pg_class.relpages: as of the last VACUUM/ANALYZE)
    tables: int
    server_version: str
    server_major: int


def measure_source(conn: psycopg.Connection) -> SourceSize:
    """One query: database size, user table data size and count, server version.

    Takes no table locks (pg_relation_size would queue behind an ACCESS EXCLUSIVE lock): the data
    size comes from pg_class.relpages, the total from pg_database_size.
    """
    row = conn.execute(
        "SELECT current_database(), pg_database_size(current_database()), "
        "coalesce(sum((c.relpages::bigint + coalesce(t.relpages, 0)) * current_setting('block_size')::bigint), 0)::bigint, "
        "count(c.oid), current_setting('server_version') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_class t ON t.oid = c.reltoastrelid "
        "WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%'"
    ).fetchone()
    assert row is not None
    version = str(row[4]).split()[0]
    return SourceSize(row[0], int(row[1]), int(row[2]), int(row[3]), version, int(conn.info.server_version) // 10000)


def dump_input_bytes(source: SourceSize) -> int:
    """Bytes pg_dump will read: the table data, or the whole database when statistics are missing
    or stale (relpages is 0 until the first VACUUM/ANALYZE)."""
    return source.database_bytes if source.data_bytes < source.database_bytes // 4 else source.data_bytes


@dataclass(frozen=True)
class DumpPlan:
    """How to call pg_dump: ``custom`` (one file) or ``directory`` (parallel), jobs, gzip level."""

    format: str
    jobs: int
    compression: int | None  # None = pg_dump's default

    @property
    def suffix(self) -> str:
        return ".dump" if self.format == "custom" else ".dumpdir"

    def pg_dump_args(self) -> list[str]:
        args = ["--format=custom" if self.format == "custom" else "--format=directory"]
        if self.format == "directory" and self.jobs > 1:
            args.append(f"--jobs={self.jobs}")
        if self.compression is not None:
            args.append(f"--compress={self.compression}")
        return args


FORMATS = ("auto", "custom", "directory")


def plan_dump(
    source: SourceSize, fmt: str = "auto", jobs: int | None = None, compression: int | None = None,
    cpu_count: int | None = None,
) -> DumpPlan:
    """Choose the dump format from the size to read: custom (gzip level 1) for small databases,
    directory with one job per core for large ones (default -Fc gzip is CPU-bound at ~25 MiB/s).

    Large dumps get light compression (gzip 1) when there are more than two cores; on two or fewer
    the pg_dump workers and their server backends already use every core, so gzip would sit on the
    critical path (measured: -Fd -j 2 -Z1 ~90-100 MiB/s, -Z0 ~140-200 MiB/s, see bench/backup_speed.py).

    Raises:
        BackupError: unknown format name.
    """
    if fmt not in FORMATS:
        raise BackupError(f"unknown backup format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    cores = cpu_count or os.cpu_count() or 1
    chosen = fmt if fmt != "auto" else ("directory" if dump_input_bytes(source) >= DIRECTORY_THRESHOLD_BYTES else "custom")
    if chosen == "custom":
        return DumpPlan("custom", 1, 1 if compression is None else compression)
    workers = jobs if jobs is not None else max(1, min(cores, source.tables or 1))
    if compression is None:
        compression = 0 if cores <= LOW_CORE_COUNT else 1
    return DumpPlan("directory", max(1, workers), compression)


def estimate_dump_bytes(source: SourceSize, plan: DumpPlan) -> int:
    """Expected size of the dump on disk (conservative)."""
    ratio = SIZE_RATIO.get(plan.compression, DEFAULT_SIZE_RATIO) if plan.compression is not None else DEFAULT_SIZE_RATIO
    return int(dump_input_bytes(source) * ratio) + MiB


def check_free_space(backup_dir: Path, needed_bytes: int) -> int:
    """Free bytes in ``backup_dir``; raises when below the estimate plus margin.

    Raises:
        BackupSpaceError: not enough room (says how much is needed and free).
    """
    free = shutil.disk_usage(backup_dir).free
    required = int(needed_bytes * SPACE_MARGIN) + SPACE_SLACK_BYTES
    if free < required:
        raise BackupSpaceError(
            f"not enough free disk in {backup_dir} for the backup: about {format_bytes(required)} needed "
            f"(estimate {format_bytes(needed_bytes)} + margin), {format_bytes(free)} free",
            "free disk space there, or set BACKUP_DIR to a folder on a larger disk",
            needed_bytes=required, free_bytes=free,
        )
    return free


def format_bytes(value: float) -> str:
    """Human size: 512 B, 1.5 MiB, 2.3 GiB."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"

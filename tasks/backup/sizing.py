"""How big a dump will be, which format to use, and whether the disk has room (plain logic plus
one catalog query)."""

from __future__ import annotations

import os
import shutil
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg

from migration_guard.tasks.backup.errors import BackupError, BackupSpaceError
from migration_guard.tasks.catalog import database_identity

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
    #: COPY text bytes pg_dump will write for the table data, from sampled rows (None: not sampled)
    copy_text_bytes: int | None = None
    #: compressed / plain size of the sampled COPY text at gzip level 1 (None: not sampled)
    compressed_ratio: float | None = None
    #: the server's system identifier and the database's oid (recorded in the backup metadata)
    system_identifier: str | None = None
    database_oid: int | None = None


#: rows read per sampled table, and how many of the largest tables are sampled
SAMPLE_ROWS = 2000
SAMPLED_TABLES = 20
#: the lock_timeout of the sampling reads: behind a migration's ACCESS EXCLUSIVE they give up
SAMPLE_LOCK_TIMEOUT = "200ms"
#: pg_dump's own bytes beside the data: archive header and TOC, and per table its DDL entries
DUMP_BASE_BYTES = 1024
DUMP_BYTES_PER_TABLE = 600


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
    identity = database_identity(conn)
    source = SourceSize(row[0], int(row[1]), int(row[2]), int(row[3]), version, int(conn.info.server_version) // 10000,
                        system_identifier=identity.system_identifier, database_oid=identity.database_oid)
    try:
        text_bytes, ratio = sample_copy_text(conn)
    except (psycopg.Error, _Unsized):
        return source  # estimate from the page counts (estimate_dump_bytes' fallback)
    return replace(source, copy_text_bytes=text_bytes, compressed_ratio=ratio)


class _Unsized(Exception):
    """A table holds more rows than its statistics know of, and nothing cheap tells how many."""


def sample_copy_text(conn: psycopg.Connection) -> tuple[int, float]:
    """(COPY text bytes of all user table data, zlib level-1 ratio of it), from up to
    ``SAMPLE_ROWS`` rows of each of the ``SAMPLED_TABLES`` largest tables, scaled by each table's
    row count (``reltuples`` once VACUUM/ANALYZE measured the table, else ``n_live_tup``, kept
    current without ANALYZE; a table smaller than one sample is counted exactly). Smaller tables
    count with the sampled text bytes per heap byte.

    Raises:
        _Unsized: a sampled table holds more rows than its statistics say (the caller falls back
            to the page counts).

    Reads rows under a short lock_timeout (``SAMPLE_LOCK_TIMEOUT``): a table locked exclusively
    is left out of the sample instead of queueing. The caller's lock_timeout is kept.
    """
    from psycopg import sql

    tables = conn.execute(
        "SELECT n.nspname, c.relname, CASE WHEN c.relpages > 0 AND c.reltuples > 0 THEN c.reltuples::bigint "
        "ELSE coalesce(s.n_live_tup, 0) END, "
        "((c.relpages::bigint + coalesce(t.relpages, 0)) * current_setting('block_size')::bigint) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_class t ON t.oid = c.reltoastrelid LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
        "WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%' "
        "ORDER BY 4 DESC, 3 DESC"
    ).fetchall()
    previous = conn.execute("SELECT current_setting('lock_timeout')").fetchone()[0]
    plain = packed = 0
    text_bytes = 0.0
    sampled_heap = sampled_text = 0.0
    rest: list[tuple[int, int]] = []
    try:
        for index, (schema, name, rows, heap) in enumerate(tables):
            if index >= SAMPLED_TABLES:
                rest.append((int(rows), int(heap)))
                continue
            # a table larger than one sample is sampled across its pages (TABLESAMPLE SYSTEM), not by
            # its first rows, which may be small and repetitive
            fraction = 1.0 if rows <= SAMPLE_ROWS else min(1.0, 1.5 * SAMPLE_ROWS / float(rows))
            if fraction < 1.0:
                query = sql.SQL("COPY (SELECT * FROM {}.{} TABLESAMPLE SYSTEM ({}) LIMIT {}) TO STDOUT").format(
                    sql.Identifier(schema), sql.Identifier(name), sql.Literal(round(fraction * 100, 6)),
                    sql.Literal(SAMPLE_ROWS))
            else:
                query = sql.SQL("COPY (SELECT * FROM {}.{} LIMIT {}) TO STDOUT").format(
                    sql.Identifier(schema), sql.Identifier(name), sql.Literal(SAMPLE_ROWS))
            try:
                with conn.transaction():
                    conn.execute("SELECT set_config('lock_timeout', %s, true)", (SAMPLE_LOCK_TIMEOUT,))
                    chunk = bytearray()
                    with conn.cursor().copy(query) as copy:
                        for data in copy:
                            chunk += data
            except psycopg.errors.LockNotAvailable:
                rest.append((int(rows), int(heap)))
                continue
            count = chunk.count(b"\n")
            if not count:
                continue
            if fraction >= 1.0 and count < SAMPLE_ROWS:
                rows = count  # the whole table was read: exact
            elif fraction >= 1.0 and rows < count:
                raise _Unsized(f"{schema}.{name}")  # statistics know fewer rows than one sample holds
            plain += len(chunk)
            packed += len(zlib.compress(bytes(chunk), 1))
            table_text = len(chunk) / count * rows
            text_bytes += table_text
            sampled_heap += heap
            sampled_text += table_text
    finally:
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
            # the caller's open transaction: the samples ran in savepoints, their setting lingers
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (previous,))
    text_per_heap = sampled_text / sampled_heap if sampled_heap else 0.6
    text_bytes += sum(heap * text_per_heap for _rows, heap in rest)
    return int(text_bytes), (packed / plain if plain else 0.5)


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
    """Expected size of the dump on disk.

    From the sampled COPY text (``measure_source``): the text itself uncompressed (``-Z 0``), else
    the text times the sample's gzip-1 ratio (higher levels only shrink it), plus pg_dump's archive
    header and per-table DDL. Without a sample (a scoped dump, or the sample failed): the table
    pages times a conservative ratio, plus 1 MiB.
    """
    if source.copy_text_bytes is not None and source.compressed_ratio is not None:
        data = source.copy_text_bytes if plan.compression == 0 else source.copy_text_bytes * source.compressed_ratio
        return int(data) + DUMP_BASE_BYTES + DUMP_BYTES_PER_TABLE * source.tables
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

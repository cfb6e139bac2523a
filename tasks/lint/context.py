"""What the linter knows beyond the SQL text: which tables are new, live table sizes, the tool."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migration_guard.tasks.catalog import ColumnType, TableStats

#: Live mode thresholds: a blocking statement on a table below SMALL is info, at or above LARGE an error.
SMALL_TABLE_ROWS = 10_000
SMALL_TABLE_BYTES = 64 * 1024 * 1024
LARGE_TABLE_ROWS = 1_000_000
LARGE_TABLE_BYTES = 1024 * 1024 * 1024
#: The PostgreSQL version rules assume without ``--pg-version`` or a live server.
DEFAULT_VERSION_NUM = 150000


@dataclass
class LintContext:
    """State shared across the files of one lint run.

    Attributes:
        default_schema: schema of unqualified names (the project's DB_SCHEMA, default ``public``).
        new_tables: (schema, table) created earlier in this run (same file or an earlier pending
            migration); they are empty, so lock rules do not apply to them.
        new_indexes: (schema, index) created earlier in this run (dropping them blocks nobody).
        table_stats: live row estimates and sizes; None = static mode (no database).
        column_types: live column types (schema, table, column); lets ALTER COLUMN TYPE be judged exactly.
        tool: ``prisma`` | ``sql`` | None; Prisma sends a whole migration file as one query, which
            PostgreSQL runs as one implicit transaction.
        server_version_num: e.g. 150004 in live mode; None = assume a supported PostgreSQL (>= 12).
        has_rows: live mode, tables whose estimate was zero, probed exactly (``SELECT EXISTS``): True =
            it has rows (statistics are stale), False = empty now; absent = not probed or unknown.
        nonvolatile_functions: non-built-in functions known IMMUTABLE or STABLE (live catalog, or created
            so earlier in this run), by name and schema.name; other non-built-ins count as volatile.
        target_version_num: the PostgreSQL the migrations will run on (``--pg-version``); None = the live
            server's, else 15.
    """

    default_schema: str = "public"
    new_tables: set[tuple[str, str]] = field(default_factory=set)
    new_indexes: set[tuple[str, str]] = field(default_factory=set)
    table_stats: dict[tuple[str, str], TableStats] | None = None
    column_types: dict[tuple[str, str, str], ColumnType] | None = None
    tool: str | None = None
    server_version_num: int | None = None
    target_version_num: int | None = None
    has_rows: dict[tuple[str, str], bool] = field(default_factory=dict)
    nonvolatile_functions: set[str] = field(default_factory=set)

    @property
    def live(self) -> bool:
        return self.table_stats is not None

    @property
    def pg_version_num(self) -> int:
        """The target PostgreSQL version: ``--pg-version``, else the live server's, else 15."""
        return self.target_version_num or self.server_version_num or DEFAULT_VERSION_NUM

    def key(self, relation: Any) -> tuple[str, str]:
        """(schema, table) of a pglast RangeVar, unqualified names in ``default_schema``."""
        return (relation.schemaname or self.default_schema, relation.relname)

    def is_new(self, key: tuple[str, str]) -> bool:
        """True when the table was created earlier in this run (so it is empty)."""
        return key in self.new_tables

    def stats_for(self, key: tuple[str, str]) -> TableStats | None:
        return self.table_stats.get(key) if self.table_stats is not None else None


def size_class(stats: TableStats, has_rows: bool | None = None) -> str:
    """``small`` | ``medium`` | ``large`` from the row estimate (by the size when the estimate is
    unknown, or zero while the table has rows: stale statistics)."""
    rows, size = stats.estimated_rows, stats.total_bytes
    if rows == 0 and has_rows:
        rows = -1
    if rows >= LARGE_TABLE_ROWS or size >= LARGE_TABLE_BYTES:
        return "large"
    if rows < 0:
        return "small" if size < 1024 * 1024 else "medium"
    if rows < SMALL_TABLE_ROWS and size < SMALL_TABLE_BYTES:
        return "small"
    return "medium"


def describe_size(stats: TableStats, has_rows: bool | None = None) -> str:
    """``~1,234,567 rows, 2.1 GB`` (``never analyzed`` when reltuples is -1; ``has rows`` when the
    estimate is zero or unknown but the table is not empty)."""
    if stats.estimated_rows <= 0 and has_rows:
        rows = "has rows (statistics say ~0: stale)"
    elif stats.estimated_rows == 0 and has_rows is False:
        rows = "~0 rows (checked: empty)"
    else:
        rows = "never analyzed" if stats.estimated_rows < 0 else f"~{stats.estimated_rows:,} rows"
    return f"{rows}, {_human_bytes(stats.total_bytes)}"


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"

"""Catalog reads both suites judge, each in one query."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg


@dataclass(frozen=True)
class InvalidIndex:
    """An index with ``indisvalid = false``.

    Attributes:
        builder_pid: the backend building it right now (CREATE INDEX CONCURRENTLY / REINDEX in
            progress, from pg_stat_progress_create_index), else None: then it is debris, left by a
            build that failed or was cancelled.
    """

    schema: str
    table: str
    name: str
    definition: str
    builder_pid: int | None = None

    @property
    def being_built(self) -> bool:
        """A live session is building it: invalid until the build ends, not debris."""
        return self.builder_pid is not None


def invalid_indexes(conn: psycopg.Connection) -> list[InvalidIndex]:
    """Every INVALID index outside the system schemas, saying which are being built right now."""
    rows = conn.execute(
        "SELECT n.nspname, t.relname, c.relname, pg_get_indexdef(i.indexrelid), "
        "(SELECT min(p.pid) FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid) "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "ORDER BY 1, 2, 3"
    ).fetchall()
    return [InvalidIndex(*row) for row in rows]

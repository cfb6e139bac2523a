"""Fix texts both suites suggest: exact statements people paste. Names come in already spelled
(``tasks/sql/identifiers``), so each suite keeps its quoting (see the package docstring)."""

from __future__ import annotations


def reindex_index_concurrently(index: str) -> str:
    """Rebuild an INVALID index in place, without blocking writes."""
    return f"REINDEX INDEX CONCURRENTLY {index};"


def drop_index_concurrently(index: str) -> str:
    """Drop an INVALID index without blocking writes (only debris: never one being built)."""
    return f"DROP INDEX CONCURRENTLY {index};"


def create_index_concurrently(definition: str) -> str:
    """``pg_get_indexdef()`` output as the non-blocking CREATE [UNIQUE] INDEX CONCURRENTLY."""
    return (definition.replace("CREATE INDEX", "CREATE INDEX CONCURRENTLY", 1)
            .replace("CREATE UNIQUE INDEX", "CREATE UNIQUE INDEX CONCURRENTLY", 1) + ";")


def wait_for_index_build(index: str, pid: int) -> str:
    """An index a live session is building: wait for it (dropping it would fail that migration)."""
    return (f"wait for pid {pid} to finish building {index}: "
            f"SELECT phase, blocks_done, blocks_total FROM pg_stat_progress_create_index WHERE pid = {pid};")


def terminate_backend(pid: int | str) -> str:
    """End a session (and roll back its transaction)."""
    return f"SELECT pg_terminate_backend({pid});"

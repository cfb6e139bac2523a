"""The catalog a diagnosis reads: a snapshot of the live schema (read-only I/O)."""

from __future__ import annotations

import psycopg

from migration_guard.tasks.schema.model import SchemaSnapshot
from migration_guard.tasks.schema.snapshot import snapshot_schema


def load_catalog(conn: psycopg.Connection, schemas: list[str]) -> SchemaSnapshot:
    """The catalog the diagnosis reads: a schema snapshot (one query per object kind).

    Args:
        conn: a connection to the live database (only read).
        schemas: the schemas to read (the project's schema).
    """
    return snapshot_schema(conn, schemas)

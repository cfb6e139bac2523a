"""Snapshot a live schema: SQLAlchemy's Inspector ``get_multi_*`` (one query per kind) for tables,
columns, nullability, defaults and enums; pg_catalog for what the Inspector does not say (exact
column types, index validity and definitions, constraint validation state and definitions,
sequences, extensions). Never per-table loops (see FIELD-NOTES)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import psycopg

from migration_guard.tasks.schema.model import (
    ColumnInfo,
    ConstraintInfo,
    IndexInfo,
    SchemaSnapshot,
    SequenceInfo,
    TableInfo,
)

#: Prisma's ledger table, left out of snapshots by default (it is not part of the application schema)
LEDGER_TABLES = frozenset({"_prisma_migrations"})

_COLUMN_TYPES = """
SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
"""

_INDEXES = """
SELECT n.nspname, ic.relname, tc.relname, pg_get_indexdef(i.indexrelid), i.indisunique, i.indisvalid,
       coalesce(array(SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                      ORDER BY k.ord), '{}')::text[],
       con.conname
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class tc ON tc.oid = i.indrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x')
WHERE n.nspname = ANY(%s)
"""

_CONSTRAINTS = """
SELECT n.nspname, t.relname, c.conname, c.contype::text, pg_get_constraintdef(c.oid), c.convalidated,
       coalesce(array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
                      ORDER BY k.ord), '{}')::text[]
FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = ANY(%s) AND c.contype IN ('p', 'u', 'f', 'c', 'x')
"""

_SEQUENCES = """
SELECT n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqincrement,
       (SELECT tn.nspname || '.' || tc.relname || '.' || a.attname
        FROM pg_depend d JOIN pg_class tc ON tc.oid = d.refobjid
        JOIN pg_namespace tn ON tn.oid = tc.relnamespace
        JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE d.objid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') LIMIT 1)
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%s)
"""

_OTHER_RELATIONS = """
SELECT n.nspname, c.relname, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%s) AND c.relkind IN ('v', 'm', 'f', 'c')
"""


def snapshot_schema(
    conn: psycopg.Connection,
    schemas: Sequence[str] | str = ("public",),
    *,
    exclude_tables: Iterable[str] = LEDGER_TABLES,
) -> SchemaSnapshot:
    """Snapshot tables, columns, indexes, constraints, enums, sequences and extensions.

    Args:
        conn: an open psycopg connection, idle (autocommit is best); it is not closed.
        schemas: the schema names to include.
        exclude_tables: table names left out (migration ledgers by default).

    Returns:
        A :class:`SchemaSnapshot` (plain data; compare two with ``compare_snapshots``).
    """
    schema_list = [schemas] if isinstance(schemas, str) else list(schemas)
    excluded = frozenset(exclude_tables)
    snapshot = SchemaSnapshot(schemas=tuple(schema_list))
    columns, enums = _inspect(conn, schema_list)
    types = {
        (r[0], r[1], r[2]): r[3] for r in conn.execute(_COLUMN_TYPES, (schema_list,)).fetchall()
    }
    for (schema, table), column_list in columns.items():
        if table in excluded:
            continue
        snapshot.tables[(schema, table)] = TableInfo(
            schema, table,
            {
                c["name"]: ColumnInfo(
                    c["name"], types.get((schema, table, c["name"]), str(c["type"])), bool(c["nullable"]),
                    c.get("default"),
                )
                for c in column_list
            },
        )
    snapshot.enums.update(enums)
    for row in conn.execute(_INDEXES, (schema_list,)).fetchall():
        if row[2] in excluded:
            continue
        snapshot.indexes[(row[0], row[1])] = IndexInfo(
            row[0], row[1], row[2], row[3], bool(row[4]), bool(row[5]), tuple(row[6] or ()), row[7]
        )
    for row in conn.execute(_CONSTRAINTS, (schema_list,)).fetchall():
        if row[1] in excluded:
            continue
        snapshot.constraints[(row[0], row[1], row[2])] = ConstraintInfo(
            row[0], row[1], row[2], row[3], row[4], bool(row[5]), tuple(row[6] or ())
        )
    for row in conn.execute(_SEQUENCES, (schema_list,)).fetchall():
        snapshot.sequences[(row[0], row[1])] = SequenceInfo(row[0], row[1], row[2], int(row[3]), row[4])
    for row in conn.execute(_OTHER_RELATIONS, (schema_list,)).fetchall():
        snapshot.other_relations[(row[0], row[1])] = row[2]
    snapshot.extensions.update(dict(conn.execute("SELECT extname, extversion FROM pg_extension").fetchall()))
    return snapshot


def _inspect(conn: psycopg.Connection, schemas: list[str]) -> tuple[dict, dict]:
    """Columns (per table) and enums (with labels) through SQLAlchemy's Inspector, one query per
    kind and schema, reusing ``conn`` (SQLAlchemy neither closes nor resets it)."""
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.pool import StaticPool

    engine = create_engine(
        "postgresql+psycopg://", creator=lambda: conn, poolclass=StaticPool, pool_reset_on_return=None
    )
    columns: dict = {}
    enums: dict = {}
    try:
        with engine.connect() as sa_conn:
            inspector = inspect(sa_conn)
            for schema in schemas:
                columns.update(inspector.get_multi_columns(schema=schema))
                for enum in inspector.get_enums(schema=schema):
                    enums[(enum["schema"] or schema, enum["name"])] = tuple(enum["labels"])
    finally:
        engine.dispose(close=False)
    return columns, enums

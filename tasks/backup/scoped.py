"""Scoped dumps against the catalog: which existing tables a scope covers (indexes resolved to their
tables, partitions and inheritance children added), the pg_dump arguments (the whole schema, data
only of those tables), and which archive entries a restore of the scope puts back.

A scoped dump is ONE pg_dump run (one snapshot): ``--exclude-table-data`` for every table outside
the scope. Restoring it over the live database replays only the scope's entries (its tables,
their data, indexes, constraints, triggers, owned sequences, the views on them and the foreign
keys of other tables that point at them) with ``--use-list``, in one transaction; other tables
are never dropped or written. Into a new database the whole archive is restored, except the
foreign keys from scoped tables to tables whose data is not in the backup (they would fail).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from migration_guard.tasks.backup.archive import ArchiveObject
from migration_guard.tasks.backup.scope import BackupScope, TouchedTables, choose_scope

Table = tuple[str, str]

_SYSTEM = ("n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%' "
           "AND n.nspname NOT LIKE 'pg_temp%%'")


def scope_for_change(conn: psycopg.Connection, policy: str, touched: TouchedTables | None,
                     always: list[Table] | None = None) -> BackupScope:
    """The backup scope of a change: ``touched`` resolved against the catalog, then BACKUP_SCOPE applied.

    Indexes named by the change count as their tables; tables that do not exist (yet) are left
    out (an earlier statement of the same change creates them); partitions and inheritance
    children of a scoped table are in scope too.
    """
    database_bytes = int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]
    if touched is not None and not touched.unknown:
        resolved = TouchedTables(list(touched.tables), [], list(touched.created), [], list(touched.reasons))
        for schema, index in touched.indexes:
            row = conn.execute(
                "SELECT tn.nspname, t.relname FROM pg_class i JOIN pg_namespace n ON n.oid = i.relnamespace "
                "JOIN pg_index x ON x.indexrelid = i.oid JOIN pg_class t ON t.oid = x.indrelid "
                "JOIN pg_namespace tn ON tn.oid = t.relnamespace WHERE n.nspname = %s AND i.relname = %s",
                (schema, index)).fetchone()
            if row is not None:
                resolved.add_table((row[0], row[1]))
        existing = [t for t in resolved.tables if t in set(_existing_tables(conn, resolved.tables))]
        resolved.tables = _with_descendants(conn, existing)
        already = set(_existing_tables(conn, resolved.created))
        resolved.created = [t for t in resolved.created if t not in already]
        resolved.created_objects = [o for o in touched.created_objects if not _object_exists(conn, o)]
        touched = resolved
    present = [t for t in always or () if t in set(_existing_tables(conn, list(always or ())))]
    return choose_scope(policy, touched, database_bytes, always=present)


def _object_exists(conn: psycopg.Connection, obj: tuple[str, str, str]) -> bool:
    kind, schema, name = obj
    if kind == "sequence":
        query = ("SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                 "WHERE c.relkind = 'S' AND n.nspname = %s AND c.relname = %s")
    else:
        query = "SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = %s AND t.typname = %s"
    return conn.execute(query, (schema, name)).fetchone() is not None


def _existing_tables(conn: psycopg.Connection, tables: list[Table]) -> list[Table]:
    if not tables:
        return []
    rows = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p', 'm', 'f') AND (n.nspname, c.relname) IN "
        "(SELECT * FROM unnest(%s::text[], %s::text[]))",
        ([s for s, _ in tables], [t for _, t in tables])).fetchall()
    return [(r[0], r[1]) for r in rows]


def _with_descendants(conn: psycopg.Connection, tables: list[Table]) -> list[Table]:
    """``tables`` plus every partition / inheritance child below them, in order."""
    if not tables:
        return []
    rows = conn.execute(
        "WITH RECURSIVE roots AS (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest(%s::text[], %s::text[]))), "
        "tree(oid) AS (SELECT oid FROM roots UNION SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid) "
        "SELECT n.nspname, c.relname FROM tree JOIN pg_class c ON c.oid = tree.oid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace",
        ([s for s, _ in tables], [t for _, t in tables])).fetchall()
    result = list(tables)
    for schema, name in rows:
        if (schema, name) not in result:
            result.append((schema, name))
    return result


@dataclass
class ScopeCatalog:
    """What the catalog says about a scope at dump time.

    Attributes:
        tables: the scope's tables that exist.
        outside: every other user table (its data is excluded from the dump).
        data_bytes: heap + TOAST pages of the scope's tables (pg_class.relpages, no locks).
        unmeasured: a scoped table has never been vacuumed/analysed (relpages says nothing).
        indexes / sequences / views: objects that belong to the scope (names in its schema).
        foreign_keys_in: (schema, table, constraint) of other tables' foreign keys to scoped tables.
        foreign_keys_out: (schema, table, constraint) of scoped tables' foreign keys to tables outside.
    """

    tables: list[Table] = field(default_factory=list)
    outside: list[Table] = field(default_factory=list)
    data_bytes: int = 0
    unmeasured: bool = False
    indexes: list[Table] = field(default_factory=list)
    sequences: list[Table] = field(default_factory=list)
    views: list[Table] = field(default_factory=list)
    foreign_keys_in: list[tuple[str, str, str]] = field(default_factory=list)
    foreign_keys_out: list[tuple[str, str, str]] = field(default_factory=list)


def read_scope_catalog(conn: psycopg.Connection, scope: BackupScope) -> ScopeCatalog:
    """Catalog facts for a scoped dump (catalog reads only: no table locks)."""
    wanted = list(scope.tables)
    arrays = ([s for s, _ in wanted], [t for _, t in wanted])
    in_scope = "(n.nspname, c.relname) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
    rows = conn.execute(
        f"SELECT n.nspname, c.relname, {in_scope}, (c.relpages::bigint + coalesce(t.relpages, 0)) "
        "* current_setting('block_size')::bigint, c.reltuples < 0 AND c.relpages = 0 "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_class t ON t.oid = c.reltoastrelid "
        f"WHERE c.relkind IN ('r', 'm') AND {_SYSTEM} ORDER BY 1, 2", arrays).fetchall()
    catalog = ScopeCatalog()
    for schema, name, inside, size, never_measured in rows:
        if inside:
            catalog.tables.append((schema, name))
            catalog.data_bytes += int(size)
            catalog.unmeasured = catalog.unmeasured or bool(never_measured)
        else:
            catalog.outside.append((schema, name))
    scoped_oids = (f"SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {in_scope}")
    catalog.indexes = [(r[0], r[1]) for r in conn.execute(
        "SELECT n.nspname, i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        f"JOIN pg_namespace n ON n.oid = i.relnamespace WHERE x.indrelid IN ({scoped_oids})", arrays)]
    catalog.sequences = [(r[0], r[1]) for r in conn.execute(
        "SELECT n.nspname, s.relname FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
        "JOIN pg_namespace n ON n.oid = s.relnamespace WHERE d.classid = 'pg_class'::regclass "
        f"AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') AND d.refobjid IN ({scoped_oids})", arrays)]
    catalog.views = [(r[0], r[1]) for r in conn.execute(
        "WITH RECURSIVE dependent(oid) AS ("
        "SELECT DISTINCT r.ev_class FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid "
        f"WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid IN ({scoped_oids}) "
        "UNION SELECT r.ev_class FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN dependent ON d.refobjid = dependent.oid "
        "WHERE d.classid = 'pg_rewrite'::regclass) "
        "SELECT n.nspname, c.relname FROM dependent JOIN pg_class c ON c.oid = dependent.oid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm')", arrays)
        if (r[0], r[1]) not in set(wanted)]
    keys = conn.execute(
        "SELECT n.nspname, c.relname, k.conname, k.conrelid IN (" + scoped_oids + "), k.confrelid IN (" + scoped_oids
        + ") FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE k.contype = 'f'", (*arrays, *arrays)).fetchall()
    for schema, table, name, from_scope, to_scope in keys:
        if to_scope and not from_scope:
            catalog.foreign_keys_in.append((schema, table, name))
        elif from_scope and not to_scope:
            catalog.foreign_keys_out.append((schema, table, name))
    return catalog


def dump_pattern(schema: str, table: str) -> str:
    """A pg_dump ``--table``-style pattern that matches exactly this table (quoted: no wildcards)."""
    return '"{}"."{}"'.format(schema.replace('"', '""'), table.replace('"', '""'))


#: above this many bytes of --exclude-table-data arguments a scoped dump is not attempted (Linux
#: limits argv + environment to ~2 MiB; pg_dump 15 has no --filter file)
MAX_EXCLUDE_ARG_BYTES = 512 * 1024


def scoped_dump_args(catalog: ScopeCatalog) -> list[str]:
    """pg_dump arguments of a scoped dump: the whole schema (pre-data and post-data sections), and
    no data for any table outside the scope (sequences keep their values). A schema without any
    scoped table is excluded with one ``"schema".*`` pattern."""
    scoped_schemas = {s for s, _ in catalog.tables}
    args = [f'--exclude-table-data="{schema.replace(chr(34), chr(34) * 2)}".*'
            for schema in sorted({s for s, _ in catalog.outside} - scoped_schemas)]
    args += [f"--exclude-table-data={dump_pattern(s, t)}" for s, t in catalog.outside if s in scoped_schemas]
    return args


def too_many_for_argv(args: list[str]) -> bool:
    """True when the exclusion arguments would not fit on pg_dump's command line."""
    return sum(len(a) + 1 for a in args) > MAX_EXCLUDE_ARG_BYTES


# ---- which archive entries a restore puts back

#: entry kinds whose name starts with the table they belong to (``<table> <name>``)
_TABLE_PREFIXED = {"CONSTRAINT", "FK CONSTRAINT", "TRIGGER", "DEFAULT", "RULE", "POLICY", "ROW SECURITY"}


@dataclass(frozen=True)
class ScopeEntries:
    """Archive entries (dump ids) for restoring a scoped backup.

    Attributes:
        over_live: the entries a restore over the live database replays (``--use-list``).
        skip_in_new_database: foreign keys from scoped tables to tables whose data the backup
            does not hold (a new database would reject them).
    """

    over_live: list[int]
    skip_in_new_database: list[int]


def scope_entries(objects: list[ArchiveObject], catalog: ScopeCatalog) -> ScopeEntries:
    """Pick the entries of a scoped archive that belong to its scope (see the module docstring)."""
    tables = set(catalog.tables)
    indexes, sequences, views = set(catalog.indexes), set(catalog.sequences), set(catalog.views)
    fk_in = {(s, t, n) for s, t, n in catalog.foreign_keys_in}
    fk_out = {(s, t, n) for s, t, n in catalog.foreign_keys_out}
    over_live: list[int] = []
    skip: list[int] = []
    for obj in objects:
        first, _, rest = obj.name.partition(" ")
        key = (obj.schema, obj.name)
        if obj.kind in ("TABLE", "TABLE DATA"):
            keep = key in tables
        elif obj.kind == "INDEX":
            keep = key in indexes
        elif obj.kind in ("SEQUENCE", "SEQUENCE SET", "SEQUENCE OWNED BY"):
            keep = key in sequences
        elif obj.kind in ("VIEW", "MATERIALIZED VIEW", "MATERIALIZED VIEW DATA"):
            keep = key in views or key in tables
        elif obj.kind in _TABLE_PREFIXED:
            keep = (obj.schema, first) in tables or (obj.schema, first, rest) in fk_in
            if obj.kind == "FK CONSTRAINT" and (obj.schema, first, rest) in fk_out:
                skip.append(obj.dump_id)
        elif obj.kind in ("COMMENT", "ACL"):
            keep = _comment_target(obj, tables | views, indexes, sequences)
        else:
            keep = False
        if keep:
            over_live.append(obj.dump_id)
    return ScopeEntries(over_live, skip)


def _comment_target(obj: ArchiveObject, relations: set[Table], indexes: set[Table], sequences: set[Table]) -> bool:
    kind, _, target = obj.name.partition(" ")
    if kind in ("TABLE", "VIEW") or kind == "MATERIALIZED":
        return (obj.schema, target.removeprefix("VIEW ")) in relations
    if kind == "COLUMN":
        return (obj.schema, target.rsplit(".", 1)[0]) in relations
    if kind == "INDEX":
        return (obj.schema, target) in indexes
    if kind == "SEQUENCE":
        return (obj.schema, target) in sequences
    return False


def scope_metadata(scope: BackupScope, catalog: ScopeCatalog, entries: ScopeEntries) -> dict[str, Any]:
    """The ``scope`` block of a scoped backup's metadata (what it covers and how to restore it)."""
    return {
        "mode": "scoped", "policy": scope.policy, "reasons": list(scope.reasons),
        "tables": [[s, t] for s, t in catalog.tables],
        "sequences": [[s, t] for s, t in catalog.sequences],
        "views": [[s, t] for s, t in catalog.views],
        "foreign_keys_in": [list(k) for k in catalog.foreign_keys_in],
        "restore_entries": entries.over_live,
        "skip_in_new_database": entries.skip_in_new_database,
        "excluded_tables": len(catalog.outside),
        "created_tables": [[s, t] for s, t in scope.created],
        "created_objects": [list(o) for o in scope.created_objects],
    }


def clearing_statements(conn: psycopg.Connection, tables: list[Table], created: list[Table]) -> list[str]:
    """SQL that clears the way for replaying a scope over the live database, run first in the
    same transaction: drop the tables the change created (CASCADE: their foreign keys and views),
    every foreign key from or to a scoped table, and the views on scoped tables. The replay
    re-creates the ones the backup holds; the others were made after it (by the change)."""
    from psycopg import sql

    arrays = ([s for s, _ in tables], [t for _, t in tables])
    scoped_oids = ("SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest(%s::text[], %s::text[]))")
    statements = [sql.SQL("DROP TABLE IF EXISTS {}.{} CASCADE;").format(sql.Identifier(s), sql.Identifier(t))
                  for s, t in created]
    keys = conn.execute(
        "SELECT n.nspname, c.relname, k.conname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
        f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE k.contype = 'f' AND (k.conrelid IN ({scoped_oids}) "
        f"OR k.confrelid IN ({scoped_oids})) ORDER BY 1, 2, 3", (*arrays, *arrays)).fetchall()
    statements += [sql.SQL("ALTER TABLE IF EXISTS {}.{} DROP CONSTRAINT IF EXISTS {};").format(
        sql.Identifier(s), sql.Identifier(t), sql.Identifier(k)) for s, t, k in keys if (s, t) not in set(created)]
    views = conn.execute(
        "WITH RECURSIVE dependent(oid) AS ("
        "SELECT DISTINCT r.ev_class FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid "
        f"WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid IN ({scoped_oids}) "
        "UNION SELECT r.ev_class FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN dependent ON d.refobjid = dependent.oid "
        "WHERE d.classid = 'pg_rewrite'::regclass) "
        "SELECT n.nspname, c.relname, c.relkind FROM dependent JOIN pg_class c ON c.oid = dependent.oid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm')", arrays).fetchall()
    for s, v, kind in views:
        if (s, v) in set(tables):
            continue
        word = "MATERIALIZED VIEW" if kind == "m" else "VIEW"
        statements.append(sql.SQL("DROP " + word + " IF EXISTS {}.{} CASCADE;").format(sql.Identifier(s), sql.Identifier(v)))
    return [statement.as_string(conn) for statement in statements]


def drop_created_objects(conn: psycopg.Connection, objects: list[tuple[str, str, str]]) -> list[str]:
    """After a scope was replayed: drop the types and sequences the change created, each only if
    nothing uses it any more (no CASCADE: a type still used by a column stays). Returns notes for
    the ones kept."""
    from psycopg import sql

    kept = []
    for kind, schema, name in objects:
        word = "SEQUENCE" if kind == "sequence" else "TYPE"
        statement = sql.SQL("DROP " + word + " IF EXISTS {}.{}").format(sql.Identifier(schema), sql.Identifier(name))
        try:
            with conn.transaction():
                conn.execute(statement)
        except psycopg.errors.DependentObjectsStillExist:
            kept.append(f"{word.lower()} {schema}.{name} (created by the change) is still used; left in place")
    return kept

"""Scoped dumps against the catalog: which existing tables a scope covers (indexes resolved to their
tables, partitions and inheritance children added), the pg_dump arguments (the whole schema, data
only of those tables), and which archive entries a restore of the scope puts back.

A scoped dump is ONE pg_dump run (one snapshot): ``--exclude-table-data`` for every table outside
the scope. Restoring it over the live database replays only the scope's entries (its tables,
their data, indexes, constraints, triggers, owned sequences, the views on them and the foreign
keys of other tables that point at them) with ``--use-list``, in one transaction; other tables
are never dropped or written. Views and foreign keys on scoped tables made after the backup
(not by the change) are re-created from their catalog definitions in that transaction
(``objects_made_since``). Into a new database the whole archive is restored, except the
foreign keys from scoped tables to tables whose data is not in the backup (they would fail).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from migration_guard.tasks.backup.archive import TABLE_PREFIXED, ArchiveObject
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
        resolved.created_views = list(touched.created_views)
        resolved.created_constraints = list(touched.created_constraints)
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
        columns: each scoped table's columns (a restore over the live database takes away any
            column added since; objects made since that use one cannot be kept).
        schemas / roles: every schema and role name (to split archive entries at known names).
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
    columns: dict[Table, list[str]] = field(default_factory=dict)
    schemas: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)


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
    catalog.views = sorted(views_on_tables(conn, wanted))
    keys = conn.execute(
        "SELECT n.nspname, c.relname, k.conname, k.conrelid IN (" + scoped_oids + "), k.confrelid IN (" + scoped_oids
        + ") FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE k.contype = 'f'", (*arrays, *arrays)).fetchall()
    for schema, table, name, from_scope, to_scope in keys:
        if to_scope and not from_scope:
            catalog.foreign_keys_in.append((schema, table, name))
        elif from_scope and not to_scope:
            catalog.foreign_keys_out.append((schema, table, name))
    for schema, table, column in conn.execute(
            "SELECT n.nspname, c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {in_scope} AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY 1, 2, a.attnum", arrays):
        catalog.columns.setdefault((schema, table), []).append(column)
    catalog.schemas = [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")]
    catalog.roles = [r[0] for r in conn.execute("SELECT rolname FROM pg_roles")]
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
        key = (obj.schema, obj.name)
        if obj.kind in ("TABLE", "TABLE DATA"):
            keep = key in tables
        elif obj.kind == "INDEX":
            keep = key in indexes
        elif obj.kind in ("SEQUENCE", "SEQUENCE SET", "SEQUENCE OWNED BY"):
            keep = key in sequences
        elif obj.kind in ("VIEW", "MATERIALIZED VIEW", "MATERIALIZED VIEW DATA"):
            keep = key in views or key in tables
        elif obj.kind in TABLE_PREFIXED:
            member = (obj.schema, obj.table, obj.member)
            keep = (obj.schema, obj.table) in tables or member in fk_in
            if obj.kind == "FK CONSTRAINT" and member in fk_out:
                skip.append(obj.dump_id)
        elif obj.kind in ("COMMENT", "ACL"):
            keep = comment_target(obj, tables | views, indexes, sequences)
        else:
            keep = False
        if keep:
            over_live.append(obj.dump_id)
    return ScopeEntries(over_live, skip)


def comment_target(obj: ArchiveObject, relations: set[Table], indexes: set[Table], sequences: set[Table]) -> bool:
    """Whether a COMMENT / ACL entry (``TABLE "name"``, ``COLUMN "table"."column"``, ...; pg_dump
    quotes the names there) is about one of the given objects."""
    from migration_guard.tasks.backup.scope import parse_table_name

    kind, _, target = obj.name.partition(" ")
    if kind == "MATERIALIZED":
        kind, target = "VIEW", target.removeprefix("VIEW ")
    try:
        first, second = parse_table_name(target, default_schema="")
    except ValueError:
        return False
    if kind == "COLUMN":
        return (obj.schema, first) in relations and bool(second)
    if first:  # a dotted name where one name was expected
        return False
    if kind in ("TABLE", "VIEW"):
        return (obj.schema, second) in relations
    if kind == "INDEX":
        return (obj.schema, second) in indexes
    if kind == "SEQUENCE":
        return (obj.schema, second) in sequences
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
        "created_views": [list(v) for v in scope.created_views],
        "created_constraints": [list(k) for k in scope.created_constraints],
        "columns": [[s, t, columns] for (s, t), columns in catalog.columns.items()],
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
    for _, s, v, kind, *_ in conn.execute(_VIEW_CLOSURE, arrays).fetchall():
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


# ---- objects made after the backup that a restore over the live database keeps


@dataclass
class MadeSince:
    """Views and foreign keys on scoped tables that the live database has and the backup's
    replayed entries do not (made after the backup). The clearing statements drop every view
    and foreign key on a scoped table; these decide which of the ones made since come back.

    Attributes:
        recreate: SQL run after the scope's script, in the same transaction: each kept object
            from its live definition (read from the catalog before anything is dropped). If one
            cannot be re-created (e.g. the restored rows violate a newer foreign key) the whole
            restore rolls back, with an error naming it.
        kept: the kept objects, one line each (``view s.v``, ``foreign key s.t.k``).
        dropped: the ones not kept and why: made by the change the backup was taken for (named
            by its statements, or using a column or table it added), so undoing it removes them.
    """

    recreate: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


#: every view and materialized view reading the given tables, directly or through views, shallowest first:
#: (oid, schema, name, relkind, depth). Catalog only: no locks (pg_get_viewdef would lock what they read)
_VIEW_CLOSURE = (
    "WITH RECURSIVE scoped AS (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest(%s::text[], %s::text[]))), "
    "dependent(oid, depth) AS ("
    "SELECT r.ev_class, 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid "
    "WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass "
    "AND d.refobjid IN (SELECT oid FROM scoped) AND r.ev_class <> d.refobjid "
    "UNION SELECT r.ev_class, dependent.depth + 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid "
    "JOIN dependent ON d.refobjid = dependent.oid WHERE d.classid = 'pg_rewrite'::regclass "
    "AND d.refclassid = 'pg_class'::regclass AND r.ev_class <> d.refobjid AND dependent.depth < 100) "
    "SELECT c.oid, n.nspname, c.relname, c.relkind, max(dependent.depth) "
    "FROM dependent JOIN pg_class c ON c.oid = dependent.oid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('v', 'm') AND c.oid NOT IN (SELECT oid FROM scoped) "
    "GROUP BY c.oid, n.nspname, c.relname ORDER BY max(dependent.depth), c.oid")
#: (view oid) -> the relations its query reads, with the column numbers it uses (0: the whole row)
_VIEW_READS = (
    "SELECT r.ev_class, d.refobjid, n.nspname, c.relname, a.attname FROM pg_rewrite r "
    "JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass "
    "JOIN pg_class c ON c.oid = d.refobjid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid AND d.refobjsubid > 0 "
    "WHERE r.ev_class = ANY(%s::oid[]) AND d.refobjid <> r.ev_class")
_FOREIGN_KEYS = (
    "WITH scoped AS (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest(%s::text[], %s::text[]))) "
    "SELECT n.nspname, c.relname, k.conname, pg_catalog.pg_get_constraintdef(k.oid), fn.nspname, f.relname, "
    "ARRAY(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = k.conrelid AND a.attnum = ANY(k.conkey)), "
    "ARRAY(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = k.confrelid AND a.attnum = ANY(k.confkey)) "
    "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_class f ON f.oid = k.confrelid JOIN pg_namespace fn ON fn.oid = f.relnamespace "
    "WHERE k.contype = 'f' AND (k.conrelid IN (SELECT oid FROM scoped) OR k.confrelid IN (SELECT oid FROM scoped)) "
    "ORDER BY 1, 2, 3")


def views_on_tables(conn: psycopg.Connection, tables: list[Table]) -> set[Table]:
    """Every view and materialized view that reads ``tables``, directly or through other views."""
    return {(r[1], r[2]) for r in conn.execute(_VIEW_CLOSURE, ([s for s, _ in tables], [t for _, t in tables]))}


def objects_made_since(conn: psycopg.Connection, scope: dict[str, Any], replayed: list[ArchiveObject],
                       created_tables: list[Table]) -> MadeSince:
    """Which views and foreign keys on the scope's tables, made after the backup, a restore over
    the live database keeps (see :class:`MadeSince`). Catalog reads only; call it before the
    clearing statements run. ``replayed`` are the archive entries the restore replays."""
    from psycopg import sql

    tables = [(s, t) for s, t in scope.get("tables", [])]
    arrays = ([s for s, _ in tables], [t for _, t in tables])
    columns = {(s, t): set(c) for s, t, c in scope.get("columns", [])}
    by_change_views = {(s, v) for s, v in scope.get("created_views", [])}
    by_change_keys = {(s, t, k) for s, t, k in scope.get("created_constraints", [])}
    in_backup_views = {(o.schema, o.name) for o in replayed if o.kind in ("VIEW", "MATERIALIZED VIEW")}
    in_backup_keys = {(o.schema, o.table, o.member) for o in replayed if o.kind == "FK CONSTRAINT"}
    created = set(created_tables)
    conn.execute("SELECT pg_catalog.set_config('search_path', '', false)")  # definitions fully qualified
    result = MadeSince()

    def removed_columns(table: Table, used: list[str]) -> list[str]:
        if table not in columns:  # not a scoped table, or a backup from before columns were recorded
            return []
        return [c for c in used if c and c not in columns[table]]

    views = conn.execute(_VIEW_CLOSURE, arrays).fetchall()
    details = {row[0]: row[1:] for row in conn.execute(  # pg_get_viewdef locks what the view reads: restore time only
        "SELECT c.oid, pg_catalog.pg_get_viewdef(c.oid), coalesce(c.reloptions, '{}'), pg_catalog.pg_get_userbyid(c.relowner), "
        "c.relispopulated, pg_catalog.obj_description(c.oid, 'pg_class') FROM pg_class c WHERE c.oid = ANY(%s::oid[])",
        ([v[0] for v in views],))}
    reads: dict[int, list[tuple[int, Table, str | None]]] = {}
    for view_oid, ref, schema, name, column in conn.execute(_VIEW_READS, ([v[0] for v in views],)):
        reads.setdefault(view_oid, []).append((ref, (schema, name), column))
    gone: set[int] = set()  # views that do not come back (their dependents cannot either)
    for oid, schema, name, relkind, _ in views:
        definition, options, owner, populated, comment = details[oid]
        label = f"{'materialized view' if relkind == 'm' else 'view'} {schema}.{name}"
        used = reads.get(oid, [])
        lost = sorted({f"{t[0]}.{t[1]}.{c}" for _, t, c in used for c in removed_columns(t, [c or ""])})
        if (schema, name) in in_backup_views:
            continue  # the backup's own definition is replayed
        if (schema, name) in by_change_views:
            result.dropped.append(f"{label}: created by the change the backup was taken for")
        elif any(ref in gone for ref, _, _ in used) or any(t in created for _, t, _ in used):
            result.dropped.append(f"{label}: reads a table or view the restore removes")
        elif lost:
            result.dropped.append(f"{label}: uses column(s) {', '.join(lost)}, which the restore takes away")
        else:
            result.kept.append(label)
            result.recreate += _view_statements(conn, oid, (schema, name), relkind, definition, list(options), owner,
                                                populated, comment, label)
            continue
        gone.add(oid)
    for schema, table, name, definition, ref_schema, ref_table, own_cols, ref_cols in conn.execute(
            _FOREIGN_KEYS, (*arrays,)).fetchall():
        if (schema, table) in created or (ref_schema, ref_table) in created or (schema, table, name) in in_backup_keys:
            continue
        label = f"foreign key {schema}.{table}.{name}"
        lost = [f"{schema}.{table}.{c}" for c in removed_columns((schema, table), list(own_cols))]
        lost += [f"{ref_schema}.{ref_table}.{c}" for c in removed_columns((ref_schema, ref_table), list(ref_cols))]
        if (schema, table, name) in by_change_keys:
            result.dropped.append(f"{label}: added by the change the backup was taken for")
        elif lost:
            result.dropped.append(f"{label}: uses column(s) {', '.join(lost)}, which the restore takes away")
        else:
            result.kept.append(label)
            statement = sql.SQL("ALTER TABLE {}.{} ADD CONSTRAINT {} ").format(
                sql.Identifier(schema), sql.Identifier(table), sql.Identifier(name)).as_string(conn) + definition
            result.recreate.append(_guarded(conn, statement, label))
    return result


def _view_statements(conn: psycopg.Connection, oid: int, key: Table, relkind: str, definition: str, options: list[str],
                     owner: str, populated: bool, comment: str | None, label: str) -> list[str]:
    """CREATE [MATERIALIZED] VIEW from the live definition, then its owner, comment, grants, and
    (materialized views) indexes / (views) triggers, each guarded so a failure names the view."""
    from psycopg import sql

    name = sql.SQL("{}.{}").format(sql.Identifier(key[0]), sql.Identifier(key[1]))
    word = sql.SQL("MATERIALIZED VIEW" if relkind == "m" else "VIEW")
    with_options = sql.SQL("")
    if options:
        pairs = [option.partition("=") for option in options]
        with_options = sql.SQL(" WITH ({})").format(sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(k), sql.Literal(v)) for k, _, v in pairs))
    body = definition.strip().rstrip(";")
    create = sql.SQL("CREATE {} {}{} AS ").format(word, name, with_options).as_string(conn) + body
    if relkind == "m" and not populated:
        create += " WITH NO DATA"
    statements = [create, sql.SQL("ALTER {} {} OWNER TO {}").format(word, name, sql.Identifier(owner)).as_string(conn)]
    if comment is not None:
        statements.append(sql.SQL("COMMENT ON {} {} IS {}").format(word, name, sql.Literal(comment)).as_string(conn))
    for grantee, privilege, grantable in conn.execute(
            "SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(a.grantee) END, a.privilege_type, "
            "a.is_grantable FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = %s AND a.grantee <> c.relowner", (oid,)):
        statements.append(sql.SQL("GRANT {} ON {} TO {}{}").format(
            sql.SQL(_PRIVILEGES[privilege]), name, sql.Identifier(grantee) if grantee else sql.SQL("PUBLIC"),
            sql.SQL(" WITH GRANT OPTION" if grantable else "")).as_string(conn))
    extra = conn.execute(
        "SELECT pg_catalog.pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = %s "
        "UNION ALL SELECT pg_catalog.pg_get_triggerdef(t.oid) FROM pg_trigger t WHERE t.tgrelid = %s AND NOT t.tgisinternal",
        (oid, oid)).fetchall()
    statements += [row[0] for row in extra]
    return [_guarded(conn, statement, label) for statement in statements]


#: privilege_type of aclexplode -> the keyword GRANT takes (a fixed list: never text from the catalog)
_PRIVILEGES = {p: p for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")}


def _guarded(conn: psycopg.Connection, statement: str, label: str) -> str:
    """``statement`` in a DO block that, when it fails, fails with a message naming ``label`` (the
    restore's transaction then rolls back, nothing changed)."""
    from psycopg import sql

    body = sql.SQL("BEGIN EXECUTE {}; EXCEPTION WHEN OTHERS THEN RAISE EXCEPTION USING ERRCODE = SQLSTATE, "
                   "MESSAGE = {} || SQLERRM, DETAIL = {}; END").format(
        sql.Literal(statement), sql.Literal(f"cannot keep {label}, made after the backup: "),
        sql.Literal(f"drop {label} first (and re-create it after the restore), or restore into a new database"))
    return sql.SQL("DO {};").format(sql.Literal(body.as_string(conn))).as_string(conn)

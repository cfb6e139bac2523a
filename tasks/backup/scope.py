"""What a pre-change backup must hold: the whole schema, plus the data of the tables the change
touches (from the statement analysis of ``tasks/sql/locks.py``), plus the migration ledger.

``analyze_sql`` reads migrations (no database); ``choose_scope`` applies the BACKUP_SCOPE policy
(``auto`` | ``scoped`` | ``full``) to that analysis and the database's size. Statements whose writes
cannot be known (a DO block running a computed EXECUTE, CALL, a SELECT calling a user function,
a statement that does not parse, TRUNCATE / DROP ... CASCADE) make the backup full; DML and DO
blocks whose targets are named widen the scope to those tables. Every widening is a reason line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pglast
from pglast import ast, enums

from migration_guard.tasks.lint.plpgsql import EmbeddedParseError, embedded_sql
from migration_guard.tasks.sql.locks import ACCESS_SHARE, ROW_SHARE, lock_for
from migration_guard.tasks.sql.nonvolatile_functions import NONVOLATILE_BUILTINS
from migration_guard.tasks.sql.statements import split_statements
from migration_guard.tasks.sql.tree import nodes

#: BACKUP_SCOPE values
SCOPES = ("auto", "scoped", "full")
#: ``auto`` takes a scoped backup when the database is at least this big (pg_database_size), a full one below
AUTO_SCOPED_ABOVE_BYTES = 1 << 30

_READ_ONLY_MODES = frozenset({ACCESS_SHARE, ROW_SHARE})
_DML = (ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)
#: volatile built-ins that write no table data (sequences are in every backup)
_HARMLESS_CALLS = frozenset({"setval", "nextval", "set_config", "pg_sleep", "pg_advisory_lock", "pg_advisory_unlock",
                             "pg_advisory_xact_lock", "pg_try_advisory_lock", "random", "gen_random_uuid", "clock_timestamp"})
_EXECUTE = re.compile(r"\bEXECUTE\b", re.IGNORECASE)


@dataclass
class TouchedTables:
    """What the statements of some migrations change.

    Attributes:
        tables: (schema, table) whose rows or definition change (data must be in the backup).
        indexes: (schema, index) named by DROP/ALTER/REINDEX INDEX (their tables come from the catalog).
        created: tables the statements create (new: no data to back up).
        unknown: why the writes cannot be known (then the backup must be full); empty when known.
        reasons: how DML and DO blocks widened the scope, one line each.
        created_objects: (kind ``type`` | ``sequence``, schema, name) the statements create; a
            restore over the live database drops them again when nothing uses them.
        created_views: (schema, view) the statements create (CREATE [MATERIALIZED] VIEW).
        created_constraints: (schema, table, constraint) named by ``ALTER TABLE ... ADD CONSTRAINT``.
            A restore over the live database keeps the views and foreign keys made after the
            backup on scoped tables, except these: they belong to the change it undoes.
    """

    tables: list[tuple[str, str]] = field(default_factory=list)
    indexes: list[tuple[str, str]] = field(default_factory=list)
    created: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    created_objects: list[tuple[str, str, str]] = field(default_factory=list)
    created_views: list[tuple[str, str]] = field(default_factory=list)
    created_constraints: list[tuple[str, str, str]] = field(default_factory=list)

    def add_table(self, key: tuple[str, str]) -> None:
        if key not in self.tables and key not in self.created:
            self.tables.append(key)


@dataclass(frozen=True)
class BackupScope:
    """What one backup holds.

    Attributes:
        mode: ``full`` (every table's data) or ``scoped`` (the whole schema, the data of ``tables``).
        tables: (schema, table) whose data a scoped backup holds.
        reasons: why the scope is what it is (policy, widenings, why full), for the report.
        policy: the BACKUP_SCOPE value it came from.
        created: tables the change creates that do not exist at backup time (a restore over the
            live database drops them again: they block dropping the tables they reference).
        created_objects: types and sequences the change creates that do not exist at backup time.
        created_views / created_constraints: views and named constraints the change creates.
    """

    mode: str = "full"
    tables: tuple[tuple[str, str], ...] = ()
    reasons: tuple[str, ...] = ()
    policy: str = "full"
    created: tuple[tuple[str, str], ...] = ()
    created_objects: tuple[tuple[str, str, str], ...] = ()
    created_views: tuple[tuple[str, str], ...] = ()
    created_constraints: tuple[tuple[str, str, str], ...] = ()

    @property
    def scoped(self) -> bool:
        return self.mode == "scoped"

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "tables": [f"{s}.{t}" for s, t in self.tables], "reasons": list(self.reasons),
                "policy": self.policy}


def analyze_sql(migrations: list[tuple[str, str]], default_schema: str = "public") -> TouchedTables:
    """The tables that the SQL of ``migrations`` ((name, sql) pairs) changes, and what cannot be known."""
    touched = TouchedTables()
    for name, text in migrations:
        for statement in split_statements(text, name):
            where = f"{name} statement {statement.index + 1}"
            if statement.node is None:
                touched.unknown.append(f"{where} does not parse, so what it writes cannot be known")
                continue
            _analyze_node(statement.node, where, default_schema, touched)
    return touched


def _analyze_node(node: Any, where: str, schema: str, touched: TouchedTables) -> None:
    if isinstance(node, ast.DoStmt):
        _analyze_do(node, where, schema, touched)
        return
    if isinstance(node, ast.CallStmt):
        touched.unknown.append(f"{where} is a CALL: what the procedure writes cannot be known")
        return
    if isinstance(node, ast.TruncateStmt) and node.behavior == enums.DropBehavior.DROP_CASCADE:
        touched.unknown.append(f"{where} is TRUNCATE ... CASCADE: the referencing tables it empties are not named")
        return
    if isinstance(node, ast.DropStmt) and node.behavior == enums.DropBehavior.DROP_CASCADE and node.removeType not in (
            enums.ObjectType.OBJECT_TABLE, enums.ObjectType.OBJECT_INDEX):
        touched.unknown.append(f"{where} is DROP ... CASCADE: the columns and tables it drops with it are not named")
        return
    created = _created_object(node, schema)
    if created is not None and created not in touched.created_objects:
        touched.created_objects.append(created)
    _note_created_dependents(node, schema, touched)
    called = _user_function_called(node) if isinstance(node, ast.SelectStmt) else None
    if called:
        touched.unknown.append(f"{where} calls {called}(): what it writes cannot be known")
        return
    for lock in lock_for(node, schema):
        if lock.kind == "index":
            if lock.key not in touched.indexes:
                touched.indexes.append(lock.key)
        elif lock.creates:
            if lock.key not in touched.created:
                touched.created.append(lock.key)
        elif lock.mode not in _READ_ONLY_MODES:
            touched.add_table(lock.key)
    for target, verb in _dml_targets(node, schema):
        if target not in touched.tables:
            touched.add_table(target)
        touched.reasons.append(f"{where}: {verb} writes {target[0]}.{target[1]}, so its data is in the backup")
    if isinstance(node, ast.CopyStmt) and node.is_from and node.relation is not None:
        touched.add_table((node.relation.schemaname or schema, node.relation.relname))


def _analyze_do(node: ast.DoStmt, where: str, schema: str, touched: TouchedTables) -> None:
    try:
        embedded = embedded_sql(node)
    except EmbeddedParseError as exc:
        touched.unknown.append(f"{where} is a DO block that does not parse ({exc.args[0]}): what it writes cannot be known")
        return
    body = next((o.arg.sval for o in node.args or () if isinstance(o, ast.DefElem) and o.defname == "as"
                 and isinstance(o.arg, ast.String)), "")
    language = next((o.arg.sval for o in node.args or () if isinstance(o, ast.DefElem) and o.defname == "language"
                     and isinstance(o.arg, ast.String)), "plpgsql")
    if language.lower() != "plpgsql":
        touched.unknown.append(f"{where} is a DO block in {language}: what it writes cannot be known")
        return
    literal_executes = sum(1 for e in embedded if e.dynamic)
    if len(_EXECUTE.findall(body)) > literal_executes:
        touched.unknown.append(f"{where} is a DO block running EXECUTE of a computed string: its targets cannot be known")
        return
    before = set(touched.tables)
    for piece in embedded:
        try:
            parsed = pglast.parse_sql(piece.sql)
        except pglast.parser.ParseError:
            touched.unknown.append(f"{where} is a DO block whose statement {piece.sql[:40]!r} does not parse")
            return
        for raw in parsed:
            _analyze_node(raw.stmt, where, schema, touched)
            if touched.unknown:
                return
    named = [t for t in touched.tables if t not in before]
    shown = ", ".join(f"{s}.{t}" for s, t in named) or "no existing table"
    touched.reasons.append(f"{where} is a DO block: the scope widens to the tables it names ({shown})")


def _created_object(node: Any, schema: str) -> tuple[str, str, str] | None:
    """(kind, schema, name) of a type, domain or sequence the statement creates (None otherwise)."""
    if isinstance(node, (ast.CreateEnumStmt, ast.CreateRangeStmt)):
        names = [n.sval for n in node.typeName or () if isinstance(n, ast.String)]
    elif isinstance(node, ast.CreateDomainStmt):
        names = [n.sval for n in node.domainname or () if isinstance(n, ast.String)]
    elif isinstance(node, ast.CompositeTypeStmt) and node.typevar is not None:
        names = [node.typevar.schemaname or schema, node.typevar.relname]
    elif isinstance(node, ast.CreateSeqStmt) and node.sequence is not None and not node.if_not_exists:
        return ("sequence", node.sequence.schemaname or schema, node.sequence.relname)
    else:
        return None
    if not names:
        return None
    return ("type", names[-2] if len(names) > 1 else schema, names[-1])


def _note_created_dependents(node: Any, schema: str, touched: TouchedTables) -> None:
    """Record the views and the named constraints a statement creates."""
    view = None
    if isinstance(node, ast.ViewStmt):
        view = node.view
    elif isinstance(node, ast.CreateTableAsStmt) and node.objtype == enums.ObjectType.OBJECT_MATVIEW and node.into:
        view = node.into.rel
    if view is not None:
        key = (view.schemaname or schema, view.relname)
        if key not in touched.created_views:
            touched.created_views.append(key)
    if isinstance(node, ast.AlterTableStmt) and node.relation is not None:
        for cmd in node.cmds or ():
            constraint = getattr(cmd, "def_", None)
            if (isinstance(cmd, ast.AlterTableCmd) and cmd.subtype == enums.AlterTableType.AT_AddConstraint
                    and isinstance(constraint, ast.Constraint)):
                name = constraint.conname or _default_foreign_key_name(node.relation.relname, constraint)
                key3 = (node.relation.schemaname or schema, node.relation.relname, name or "")
                if name and key3 not in touched.created_constraints:
                    touched.created_constraints.append(key3)


def _default_foreign_key_name(table: str, constraint: ast.Constraint) -> str | None:
    """The name PostgreSQL gives an unnamed ``FOREIGN KEY (a, b)``: ``<table>_a_b_fkey`` (None when
    it would be truncated to 63 bytes, where PostgreSQL's choice is not worth guessing)."""
    if constraint.contype != enums.ConstrType.CONSTR_FOREIGN or not constraint.fk_attrs:
        return None
    name = "_".join([table, *(a.sval for a in constraint.fk_attrs if isinstance(a, ast.String)), "fkey"])
    return name if len(name.encode()) <= 63 else None


def _dml_targets(node: Any, schema: str) -> list[tuple[tuple[str, str], str]]:
    """Tables written by DML anywhere in ``node`` (data-modifying CTEs included), with the verb."""
    return [((item.relation.schemaname or schema, item.relation.relname), type(item).__name__.removesuffix("Stmt").upper())
            for item in nodes(node) if isinstance(item, _DML) and getattr(item, "relation", None) is not None]


def _user_function_called(node: Any) -> str | None:
    """The first function a SELECT calls that is not a built-in known to be non-volatile."""
    for item in nodes(node):
        if isinstance(item, ast.FuncCall):
            names = [n.sval for n in item.funcname or () if isinstance(n, ast.String)]
            qualified = len(names) > 1 and names[0] != "pg_catalog"
            if names and (qualified or (names[-1] not in NONVOLATILE_BUILTINS and names[-1] not in _HARMLESS_CALLS)):
                return ".".join(names)
    return None


def choose_scope(policy: str, touched: TouchedTables | None, database_bytes: int,
                 always: list[tuple[str, str]] | None = None,
                 threshold_bytes: int = AUTO_SCOPED_ABOVE_BYTES) -> BackupScope:
    """Apply BACKUP_SCOPE to an analysis.

    Args:
        policy: ``auto`` (scoped at or above ``threshold_bytes``, full below), ``scoped`` or ``full``.
        touched: what the change writes (None: unknown, e.g. no migration to analyse).
        database_bytes: pg_database_size of the source.
        always: tables whose data is in every scoped backup (the migration ledger).

    Raises:
        ValueError: an unknown policy (settings validate it first).
    """
    from migration_guard.tasks.backup.sizing import format_bytes

    if policy not in SCOPES:
        raise ValueError(f"unknown backup scope {policy!r}")
    if policy == "full":
        return BackupScope("full", reasons=("BACKUP_SCOPE=full: every table's data",), policy=policy)
    if policy == "auto" and database_bytes < threshold_bytes:
        return BackupScope("full", reasons=(
            f"BACKUP_SCOPE=auto: the database ({format_bytes(database_bytes)}) is below "
            f"{format_bytes(threshold_bytes)}, so a full backup is cheap",), policy=policy)
    if touched is None:
        return BackupScope("full", reasons=("no migration SQL to analyse: every table's data",), policy=policy)
    if touched.unknown:
        return BackupScope("full", reasons=tuple(f"full backup: {u}" for u in touched.unknown), policy=policy)
    tables = list(touched.tables)
    for key in always or ():
        if key not in tables:
            tables.append(key)
    why = (f"BACKUP_SCOPE={policy}" + (f": the database ({format_bytes(database_bytes)}) is at least "
                                       f"{format_bytes(threshold_bytes)}" if policy == "auto" else "")
           + f"; the whole schema plus the data of the {len(tables)} table(s) the change touches")
    return BackupScope("scoped", tuple(tables), (why, *touched.reasons), policy, tuple(touched.created),
                       tuple(touched.created_objects), tuple(touched.created_views), tuple(touched.created_constraints))


def parse_table_name(text: str, default_schema: str = "public") -> tuple[str, str]:
    """(schema, table) from ``table``, ``schema.table`` or their double-quoted forms as people paste
    them (unquoted parts fold to lower case, like PostgreSQL).

    Raises:
        ValueError: empty, or more than two parts, or an unterminated quote.
    """
    parts: list[str] = []
    i, text = 0, text.strip()
    while i < len(text):
        if text[i] == '"':
            end, part = i + 1, ""
            while True:
                close = text.find('"', end)
                if close < 0:
                    raise ValueError(f"unterminated quote in table name {text!r}")
                part += text[end:close]
                if text[close + 1:close + 2] == '"':
                    part, end = part + '"', close + 2
                    continue
                i = close + 1
                break
        else:
            dot = text.find(".", i)
            end = len(text) if dot < 0 else dot
            part, i = text[i:end].strip().lower(), end
        parts.append(part)
        if i < len(text):
            if text[i] != ".":
                raise ValueError(f"unexpected {text[i]!r} in table name {text!r}")
            i += 1
    if not parts or not all(parts) or len(parts) > 2:
        raise ValueError(f"not a table name: {text!r} (use table or schema.table)")
    return (default_schema, parts[0]) if len(parts) == 1 else (parts[0], parts[1])

"""Which tables a statement touches, the lock it takes on each, and whether it rewrites the table.

A plain function of the pglast node (no database): the safe-migrate dry-run prints it as "the lock
each statement takes", validate uses :func:`tables_touched` to look for conflicting locks, and the
linter uses it to know which tables to size in live mode. Lock levels follow the PostgreSQL 15
documentation (explicit locking, ALTER TABLE, CREATE INDEX ...).

Limits: objects named by an index (DROP INDEX, REINDEX INDEX, ALTER INDEX) are reported with
``kind="index"`` because the owning table needs the catalog; statements inside DO blocks and
function bodies are not expanded here (the linter does that).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pglast import ast, enums

from migration_guard.tasks.sql.tree import nodes

ACCESS_SHARE = "ACCESS SHARE"
ROW_SHARE = "ROW SHARE"
ROW_EXCLUSIVE = "ROW EXCLUSIVE"
SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"
SHARE = "SHARE"
SHARE_ROW_EXCLUSIVE = "SHARE ROW EXCLUSIVE"
EXCLUSIVE = "EXCLUSIVE"
ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"

#: Weakest to strongest; the index is the strength.
LOCK_MODES: tuple[str, ...] = (
    ACCESS_SHARE, ROW_SHARE, ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE,
    EXCLUSIVE, ACCESS_EXCLUSIVE,
)

#: Modes that block plain reads (SELECT) or writes (INSERT/UPDATE/DELETE) of other sessions.
BLOCKS_READS = frozenset({ACCESS_EXCLUSIVE})
BLOCKS_WRITES = frozenset({SHARE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE})

_CONFLICTS: dict[str, frozenset[str]] = {
    ACCESS_SHARE: frozenset({ACCESS_EXCLUSIVE}),
    ROW_SHARE: frozenset({EXCLUSIVE, ACCESS_EXCLUSIVE}),
    ROW_EXCLUSIVE: frozenset({SHARE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE}),
    SHARE_UPDATE_EXCLUSIVE: frozenset({SHARE_UPDATE_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE}),
    SHARE: frozenset({ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE}),
    SHARE_ROW_EXCLUSIVE: frozenset({ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE}),
    EXCLUSIVE: frozenset({ROW_SHARE, ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE}),
    ACCESS_EXCLUSIVE: frozenset(LOCK_MODES),
}


def conflicts(mode: str, other: str) -> bool:
    """True when lock ``mode`` conflicts with ``other`` (pg_locks spells modes ``AccessExclusiveLock``;
    both spellings are accepted)."""
    return _normal(other) in _CONFLICTS[_normal(mode)]


def _normal(mode: str) -> str:
    if mode.endswith("Lock"):
        words, current = [], ""
        for char in mode[:-4]:
            if char.isupper() and current:
                words.append(current)
                current = ""
            current += char
        words.append(current)
        return " ".join(words).upper()
    return mode.upper()


@dataclass(frozen=True)
class StatementLock:
    """One lock a statement takes.

    Attributes:
        schema / table: the object (``schema`` is the statement's or ``default_schema``).
        mode: PostgreSQL lock mode name (``ACCESS EXCLUSIVE`` ...).
        rewrites: the statement rewrites the table (time proportional to its size, disk x2).
        creates: the statement creates this table (it is new and empty).
        kind: ``table`` or ``index`` (then ``table`` holds the index name).
        reason: the clause that takes this lock, for plans and messages.
    """

    schema: str
    table: str
    mode: str
    rewrites: bool = False
    creates: bool = False
    kind: str = "table"
    reason: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.schema, self.table)

    @property
    def blocks_reads(self) -> bool:
        return self.mode in BLOCKS_READS

    @property
    def blocks_writes(self) -> bool:
        return self.mode in BLOCKS_WRITES


def relation_key(relation: Any, default_schema: str = "public") -> tuple[str, str]:
    """(schema, table) of a pglast ``RangeVar``."""
    return (relation.schemaname or default_schema, relation.relname)


def name_key(names: Any, default_schema: str = "public") -> tuple[str, str]:
    """(schema, name) of a qualified name list (``(String, String)``) as DROP uses."""
    parts = [n.sval for n in names or () if isinstance(n, ast.String)]
    if not parts:
        return (default_schema, "")
    if len(parts) == 1:
        return (default_schema, parts[0])
    return (parts[-2], parts[-1])


def lock_for(statement: Any, default_schema: str = "public") -> list[StatementLock]:
    """The locks a statement (a :class:`~migration_guard.tasks.sql.statements.Statement` or a
    pglast node) takes, strongest per object first; [] for statements that lock no table.

    Example:
        >>> [l.mode for l in lock_for(pglast.parse_sql("CREATE INDEX i ON t (a)")[0].stmt)]
        ['SHARE']
    """
    node = getattr(statement, "node", statement)
    if node is None:
        return []
    handler = _HANDLERS.get(type(node))
    if handler is None:
        return []
    return _strongest_first(handler(node, default_schema))


def tables_touched(statement: Any, default_schema: str = "public") -> list[tuple[str, str]]:
    """(schema, table) pairs a statement locks, in order, without duplicates (indexes excluded)."""
    seen: dict[tuple[str, str], None] = {}
    for lock in lock_for(statement, default_schema):
        if lock.kind == "table":
            seen.setdefault(lock.key, None)
    return list(seen)


def _strongest_first(locks: list[StatementLock]) -> list[StatementLock]:
    best: dict[tuple[str, str, str], StatementLock] = {}
    for lock in locks:
        key = (lock.kind, lock.schema, lock.table)
        current = best.get(key)
        if current is None or LOCK_MODES.index(lock.mode) > LOCK_MODES.index(current.mode):
            best[key] = StatementLock(
                lock.schema, lock.table, lock.mode, lock.rewrites or bool(current and current.rewrites),
                lock.creates or bool(current and current.creates), lock.kind, lock.reason,
            )
        elif lock.rewrites and not current.rewrites:
            best[key] = StatementLock(
                current.schema, current.table, current.mode, True, current.creates, current.kind, lock.reason
            )
    return sorted(best.values(), key=lambda l: -LOCK_MODES.index(l.mode))


AT = enums.AlterTableType
CT = enums.ConstrType
OT = enums.ObjectType

_SHARE_UPDATE_EXCLUSIVE_SUBCOMMANDS = frozenset({
    AT.AT_SetStatistics, AT.AT_ClusterOn, AT.AT_DropCluster, AT.AT_SetRelOptions, AT.AT_ResetRelOptions,
    AT.AT_ReplaceRelOptions, AT.AT_ValidateConstraint, AT.AT_AttachPartition,
})
_SHARE_ROW_EXCLUSIVE_SUBCOMMANDS = frozenset({
    AT.AT_EnableTrig, AT.AT_EnableAlwaysTrig, AT.AT_EnableReplicaTrig, AT.AT_DisableTrig,
    AT.AT_EnableTrigAll, AT.AT_DisableTrigAll, AT.AT_EnableTrigUser, AT.AT_DisableTrigUser,
})
_REWRITING_SUBCOMMANDS = frozenset({AT.AT_SetLogged, AT.AT_SetUnLogged, AT.AT_SetAccessMethod, AT.AT_SetTableSpace})


def _alter_table(node: ast.AlterTableStmt, schema: str) -> list[StatementLock]:
    if node.relation is None:
        return []
    target_schema, table = relation_key(node.relation, schema)
    kind = "index" if node.objtype == OT.OBJECT_INDEX else "table"
    locks: list[StatementLock] = []
    for cmd in node.cmds or ():
        subtype = cmd.subtype
        mode, rewrites, reason = ACCESS_EXCLUSIVE, subtype in _REWRITING_SUBCOMMANDS, _subcommand_name(subtype)
        if subtype in _SHARE_UPDATE_EXCLUSIVE_SUBCOMMANDS:
            mode = SHARE_UPDATE_EXCLUSIVE
        elif subtype in _SHARE_ROW_EXCLUSIVE_SUBCOMMANDS:
            mode = SHARE_ROW_EXCLUSIVE
        elif subtype == AT.AT_DetachPartition and isinstance(cmd.def_, ast.PartitionCmd) and cmd.def_.concurrent:
            mode = SHARE_UPDATE_EXCLUSIVE
        elif subtype == AT.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
            constraint = cmd.def_
            if constraint.contype == CT.CONSTR_FOREIGN:
                mode = SHARE_ROW_EXCLUSIVE
                if constraint.pktable is not None:
                    ref_schema, ref_table = relation_key(constraint.pktable, schema)
                    locks.append(StatementLock(ref_schema, ref_table, SHARE_ROW_EXCLUSIVE, reason="referenced by FOREIGN KEY"))
        elif subtype == AT.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
            rewrites = column_rewrites_table(cmd.def_)
        elif subtype == AT.AT_AlterColumnType and isinstance(cmd.def_, ast.ColumnDef):
            rewrites = not type_change_is_binary_coercible(cmd.def_)
        if subtype == AT.AT_AttachPartition and isinstance(cmd.def_, ast.PartitionCmd) and cmd.def_.name is not None:
            part_schema, part = relation_key(cmd.def_.name, schema)
            locks.append(StatementLock(part_schema, part, ACCESS_EXCLUSIVE, reason="partition being attached"))
        locks.append(StatementLock(target_schema, table, mode, rewrites, kind=kind, reason=reason))
    return locks


def _subcommand_name(subtype: Any) -> str:
    return subtype.name.removeprefix("AT_") if hasattr(subtype, "name") else str(subtype)


def default_expression(column: ast.ColumnDef) -> Any:
    """The DEFAULT expression node of a column definition, or None."""
    for constraint in column.constraints or ():
        if isinstance(constraint, ast.Constraint) and constraint.contype == CT.CONSTR_DEFAULT:
            return constraint.raw_expr
    return None


def volatile_call(expression: Any, nonvolatile: frozenset[str] | set[str] = frozenset()) -> str | None:
    """Name of the first function in ``expression`` that may be volatile (walks the tree), or None.

    A function is volatile unless known immutable or stable: every pg_catalog overload of that name
    is (``NONVOLATILE_BUILTINS``; now(), lower(), 'x'::jsonb casts ...), or ``nonvolatile`` names it
    (live catalog, functions created IMMUTABLE/STABLE earlier in the run). Stable defaults are
    evaluated once by PostgreSQL >= 11 and stored in the catalog (no rewrite); volatile ones
    (random(), gen_random_uuid(), nextval(), a user's ``uuid()``) give every row its own value, so
    the table is rewritten. A schema-qualified call outside pg_catalog is a user function.
    """
    from migration_guard.tasks.sql.nonvolatile_functions import NONVOLATILE_BUILTINS

    for item in nodes(expression):
        if isinstance(item, ast.FuncCall):
            parts = [n.sval.lower() for n in item.funcname or () if isinstance(n, ast.String)]
            name = parts[-1] if parts else ""
            builtin = len(parts) == 1 or parts[0] == "pg_catalog"
            if not ((builtin and name in NONVOLATILE_BUILTINS) or name in nonvolatile or ".".join(parts) in nonvolatile):
                return ".".join(parts) or "?"
    return None


def column_rewrites_table(column: ast.ColumnDef) -> bool:
    """True when adding this column rewrites the table: a volatile default, a stored generated
    column, an identity column, or a serial type (nextval() default)."""
    if type_name(column.typeName) in {"serial", "bigserial", "smallserial", "serial4", "serial8", "serial2"}:
        return True
    for constraint in column.constraints or ():
        if not isinstance(constraint, ast.Constraint):
            continue
        if constraint.contype in (CT.CONSTR_IDENTITY, CT.CONSTR_GENERATED):
            return True
        if constraint.contype == CT.CONSTR_DEFAULT and volatile_call(constraint.raw_expr):
            return True
    return False


def type_name(type_node: Any) -> str:
    """Lowercase base type name without the pg_catalog prefix (``varchar``, ``int4``, ``jsonb``)."""
    if type_node is None or not type_node.names:
        return ""
    return type_node.names[-1].sval.lower()


def type_modifiers(type_node: Any) -> tuple[int, ...]:
    """Integer type modifiers (``varchar(20)`` → (20,), ``numeric(10,2)`` → (10, 2))."""
    values = []
    for modifier in getattr(type_node, "typmods", None) or ():
        val = getattr(modifier, "val", None)
        if isinstance(val, ast.Integer):
            values.append(val.ival)
    return tuple(values)


#: Spellings that name the same pg_type (``typname``) as the parser's canonical name.
TYPE_ALIASES = {
    "int": "int4", "integer": "int4", "smallint": "int2", "bigint": "int8", "decimal": "numeric",
    "character varying": "varchar", "character": "bpchar", "boolean": "bool", "real": "float4",
    "double precision": "float8", "float": "float8",
}
#: (old, new) type names whose change is a binary-coercible relabel (no rewrite, no scan) whatever the
#: modifiers (the modifier rules are in :func:`binary_coercible`); PostgreSQL 15 pg_cast method ``b``.
_RELABEL = frozenset({
    ("varchar", "text"), ("text", "varchar"), ("citext", "text"), ("text", "citext"), ("varchar", "citext"),
    ("citext", "varchar"), ("cidr", "inet"), ("xml", "text"), ("xml", "varchar"),
})
#: Types whose length/precision modifier may grow without a rewrite (and be dropped: unbounded).
_WIDENABLE = frozenset({"varchar", "varbit", "timestamp", "timestamptz", "time", "timetz", "numeric"})


def canonical_type(name: str, mods: tuple[int, ...] = ()) -> tuple[str, tuple[int, ...]]:
    """(pg_type name, modifiers) as the catalog spells them: aliases resolved, ``numeric(p)`` = (p, 0)."""
    name = TYPE_ALIASES.get(name.lower(), name.lower())
    if name == "numeric" and len(mods) == 1:
        mods = (mods[0], 0)
    return name, tuple(mods)


def binary_coercible(old: str, old_mods: tuple[int, ...], new: str, new_mods: tuple[int, ...]) -> bool:
    """True when ALTER COLUMN TYPE from ``old`` to ``new`` neither rewrites nor scans the table.

    The PostgreSQL rules (ATColumnChangeRequiresRewrite with the types' length-coercion support
    functions): the same type and modifiers; a binary relabel (varchar → text, text → varchar
    without a length, citext ↔ text, cidr → inet); varchar(n) → varchar(m ≥ n) or unbounded;
    numeric(p,s) → numeric(p' ≥ p, s) or unbounded numeric; timestamp/timestamptz/time(p) →
    the same type with p' ≥ p or unbounded; varbit(n) → varbit(m ≥ n). Everything else rewrites
    (int → bigint, int → numeric, json ↔ jsonb, uuid ↔ text, char(n) → anything, enum → text,
    timestamp → timestamptz: that one skips the rewrite only when the session's TimeZone is UTC,
    which a migration cannot count on). Array types (``_int4``) follow the same-type rule only.
    """
    old, old_mods = canonical_type(old, old_mods)
    new, new_mods = canonical_type(new, new_mods)
    if old == new and old_mods == new_mods:
        return True
    if (old, new) in _RELABEL:
        return not new_mods or (old == new) or (old == "varchar" and bool(old_mods) and new_mods[0] >= old_mods[0])
    if old == new and old in _WIDENABLE:
        if not new_mods:
            return True
        if not old_mods:
            return False
        if old == "numeric":
            return len(new_mods) == 2 and len(old_mods) == 2 and new_mods[1] == old_mods[1] and new_mods[0] >= old_mods[0]
        return new_mods[0] >= old_mods[0]
    return False


def column_type_of(type_node: Any) -> tuple[str, tuple[int, ...]]:
    """(pg_type name, modifiers) of a parsed type; arrays are ``_name`` as in pg_type."""
    name, mods = canonical_type(type_name(type_node), type_modifiers(type_node))
    if type_node is not None and getattr(type_node, "arrayBounds", None):
        name = "_" + name
    return name, mods


def type_change_is_binary_coercible(
    column: ast.ColumnDef, current: tuple[str, tuple[int, ...]] | None = None
) -> bool:
    """True for an ALTER COLUMN TYPE that PostgreSQL does without a rewrite.

    Args:
        column: the ALTER COLUMN TYPE command's definition (new type, USING in ``raw_default``).
        current: the column's current (pg_type name, modifiers), when known (live catalog).

    Without ``current`` nothing in the statement proves the change binary-coercible (``TYPE text``
    rewrites an integer column), so it counts as a rewrite. A USING clause always rewrites.
    """
    if column.raw_default is not None or current is None:
        return False
    new, new_mods = column_type_of(column.typeName)
    return binary_coercible(current[0], current[1], new, new_mods)


def _index(node: ast.IndexStmt, schema: str) -> list[StatementLock]:
    table_schema, table = relation_key(node.relation, schema)
    mode = SHARE_UPDATE_EXCLUSIVE if node.concurrent else SHARE
    return [StatementLock(table_schema, table, mode, reason="CREATE INDEX" + (" CONCURRENTLY" if node.concurrent else ""))]


def _create(node: ast.CreateStmt, schema: str) -> list[StatementLock]:
    table_schema, table = relation_key(node.relation, schema)
    locks = [StatementLock(table_schema, table, ACCESS_EXCLUSIVE, creates=True, reason="CREATE TABLE")]
    for element in node.tableElts or ():
        constraints = element.constraints if isinstance(element, ast.ColumnDef) else (element,)
        for constraint in constraints or ():
            if isinstance(constraint, ast.Constraint) and constraint.contype == CT.CONSTR_FOREIGN and constraint.pktable:
                ref_schema, ref_table = relation_key(constraint.pktable, schema)
                if (ref_schema, ref_table) != (table_schema, table):
                    locks.append(StatementLock(ref_schema, ref_table, SHARE_ROW_EXCLUSIVE, reason="referenced by FOREIGN KEY"))
    for parent in node.inhRelations or ():
        if isinstance(parent, ast.RangeVar):
            parent_schema, parent_table = relation_key(parent, schema)
            mode = ACCESS_EXCLUSIVE if node.partbound is not None else SHARE_UPDATE_EXCLUSIVE
            locks.append(StatementLock(parent_schema, parent_table, mode, reason="parent table"))
    return locks


def _create_table_as(node: ast.CreateTableAsStmt, schema: str) -> list[StatementLock]:
    into = node.into.rel if node.into is not None else None
    locks = [StatementLock(*relation_key(into, schema), ACCESS_EXCLUSIVE, creates=True, reason="CREATE TABLE AS")] if into else []
    return locks + [StatementLock(s, t, ACCESS_SHARE, reason="read") for s, t in _range_vars(node.query, schema)]


_DROP_TABLE_LIKE = {OT.OBJECT_TABLE, OT.OBJECT_MATVIEW, OT.OBJECT_VIEW, OT.OBJECT_FOREIGN_TABLE}


def _drop(node: ast.DropStmt, schema: str) -> list[StatementLock]:
    locks = []
    if node.removeType in _DROP_TABLE_LIKE:
        for names in node.objects or ():
            locks.append(StatementLock(*name_key(names, schema), ACCESS_EXCLUSIVE, reason="DROP"))
    elif node.removeType == OT.OBJECT_INDEX:
        mode = SHARE_UPDATE_EXCLUSIVE if node.concurrent else ACCESS_EXCLUSIVE
        for names in node.objects or ():
            locks.append(StatementLock(*name_key(names, schema), mode, kind="index", reason="DROP INDEX"))
    elif node.removeType in (OT.OBJECT_TRIGGER, OT.OBJECT_RULE, OT.OBJECT_POLICY):
        for names in node.objects or ():
            parts = [n.sval for n in names if isinstance(n, ast.String)]
            if len(parts) >= 2:
                table_parts = parts[:-1]
                key = (table_parts[-2], table_parts[-1]) if len(table_parts) > 1 else (schema, table_parts[0])
                locks.append(StatementLock(*key, ACCESS_EXCLUSIVE, reason=f"DROP {node.removeType.name.removeprefix('OBJECT_')}"))
    return locks


def _truncate(node: ast.TruncateStmt, schema: str) -> list[StatementLock]:
    return [StatementLock(*relation_key(r, schema), ACCESS_EXCLUSIVE, reason="TRUNCATE") for r in node.relations or ()]


def _rename(node: ast.RenameStmt, schema: str) -> list[StatementLock]:
    if node.relation is None:
        return []
    if node.renameType == OT.OBJECT_INDEX or node.relationType == OT.OBJECT_INDEX:
        return [StatementLock(*relation_key(node.relation, schema), SHARE_UPDATE_EXCLUSIVE, kind="index", reason="RENAME")]
    return [StatementLock(*relation_key(node.relation, schema), ACCESS_EXCLUSIVE, reason="RENAME")]


def option_is_on(options: Any, name: str) -> bool:
    """True when the utility option ``name`` is given and not switched off: ``(FULL)``, ``FULL``,
    ``(FULL true)``, ``(FULL 1)`` are on; ``(FULL false)``, ``(FULL off)``, ``(FULL 0)`` are off."""
    for option in options or ():
        if isinstance(option, ast.DefElem) and option.defname == name:
            value = option.arg
            if value is None:
                return True
            if isinstance(value, ast.Integer):
                return value.ival != 0
            if isinstance(value, ast.Boolean):
                return bool(value.boolval)
            if isinstance(value, ast.String):
                return value.sval.lower() not in ("false", "off", "0", "no")
            return True
    return False


def _reindex(node: ast.ReindexStmt, schema: str) -> list[StatementLock]:
    if node.relation is None:
        return []
    concurrent = option_is_on(node.params, "concurrently")
    is_index = node.kind == enums.ReindexObjectType.REINDEX_OBJECT_INDEX
    if concurrent:
        mode = SHARE_UPDATE_EXCLUSIVE
    else:
        mode = ACCESS_EXCLUSIVE if is_index else SHARE
    return [StatementLock(*relation_key(node.relation, schema), mode, kind="index" if is_index else "table", reason="REINDEX")]


def _vacuum(node: ast.VacuumStmt, schema: str) -> list[StatementLock]:
    full = option_is_on(node.options, "full")
    mode = ACCESS_EXCLUSIVE if full else SHARE_UPDATE_EXCLUSIVE
    locks = []
    for relation in node.rels or ():
        rel = relation.relation if isinstance(relation, ast.VacuumRelation) else relation
        if rel is not None:
            locks.append(StatementLock(*relation_key(rel, schema), mode, rewrites=full, reason="VACUUM FULL" if full else "VACUUM/ANALYZE"))
    return locks


def _cluster(node: ast.ClusterStmt, schema: str) -> list[StatementLock]:
    if node.relation is None:
        return []
    return [StatementLock(*relation_key(node.relation, schema), ACCESS_EXCLUSIVE, rewrites=True, reason="CLUSTER")]


def _dml(node: Any, schema: str) -> list[StatementLock]:
    locks = [StatementLock(*relation_key(node.relation, schema), ROW_EXCLUSIVE, reason=type(node).__name__.removesuffix("Stmt").upper())]
    for child in ("selectStmt", "fromClause", "usingClause", "whereClause", "sourceRelation", "withClause"):
        locks.extend(StatementLock(s, t, ACCESS_SHARE, reason="read") for s, t in _range_vars(getattr(node, child, None), schema))
    return locks


def _select(node: ast.SelectStmt, schema: str) -> list[StatementLock]:
    mode = ROW_SHARE if node.lockingClause else ACCESS_SHARE
    return [StatementLock(s, t, mode, reason="read") for s, t in _range_vars(node, schema)]


_LOCK_MODE_NUMBERS = {1: ACCESS_SHARE, 2: ROW_SHARE, 3: ROW_EXCLUSIVE, 4: SHARE_UPDATE_EXCLUSIVE, 5: SHARE,
                      6: SHARE_ROW_EXCLUSIVE, 7: EXCLUSIVE, 8: ACCESS_EXCLUSIVE}


def _lock(node: ast.LockStmt, schema: str) -> list[StatementLock]:
    mode = _LOCK_MODE_NUMBERS.get(int(node.mode), ACCESS_EXCLUSIVE)
    return [StatementLock(*relation_key(r, schema), mode, reason="LOCK TABLE") for r in node.relations or ()]


def _trigger(node: ast.CreateTrigStmt, schema: str) -> list[StatementLock]:
    return [StatementLock(*relation_key(node.relation, schema), SHARE_ROW_EXCLUSIVE, reason="CREATE TRIGGER")]


def _policy(node: Any, schema: str) -> list[StatementLock]:
    return [StatementLock(*relation_key(node.table, schema), ACCESS_EXCLUSIVE, reason="POLICY")]


def _refresh(node: ast.RefreshMatViewStmt, schema: str) -> list[StatementLock]:
    mode = EXCLUSIVE if node.concurrent else ACCESS_EXCLUSIVE
    return [StatementLock(*relation_key(node.relation, schema), mode, rewrites=True, reason="REFRESH MATERIALIZED VIEW")]


def _comment(node: ast.CommentStmt, schema: str) -> list[StatementLock]:
    if node.objtype in (OT.OBJECT_TABLE, OT.OBJECT_COLUMN) and isinstance(node.object, (list, tuple)):
        names = list(node.object)[:-1] if node.objtype == OT.OBJECT_COLUMN else list(node.object)
        return [StatementLock(*name_key(names, schema), SHARE_UPDATE_EXCLUSIVE, reason="COMMENT")]
    return []


def _range_vars(node: Any, schema: str) -> list[tuple[str, str]]:
    """Every table a query reads (CTE names included when they shadow nothing; good enough for plans)."""
    return [relation_key(item, schema) for item in nodes(node) if isinstance(item, ast.RangeVar)]


_HANDLERS = {
    ast.AlterTableStmt: _alter_table,
    ast.IndexStmt: _index,
    ast.CreateStmt: _create,
    ast.CreateTableAsStmt: _create_table_as,
    ast.DropStmt: _drop,
    ast.TruncateStmt: _truncate,
    ast.RenameStmt: _rename,
    ast.ReindexStmt: _reindex,
    ast.VacuumStmt: _vacuum,
    ast.ClusterStmt: _cluster,
    ast.InsertStmt: _dml,
    ast.UpdateStmt: _dml,
    ast.DeleteStmt: _dml,
    ast.MergeStmt: _dml,
    ast.SelectStmt: _select,
    ast.LockStmt: _lock,
    ast.CreateTrigStmt: _trigger,
    ast.CreatePolicyStmt: _policy,
    ast.AlterPolicyStmt: _policy,
    ast.RefreshMatViewStmt: _refresh,
    ast.CommentStmt: _comment,
}

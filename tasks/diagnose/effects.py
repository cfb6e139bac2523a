"""Decide, from a schema snapshot, whether one statement's effect is present (plain logic).

Covers CREATE/DROP TABLE, ADD/DROP COLUMN (type and nullability compared), ALTER COLUMN TYPE,
SET/DROP NOT NULL, SET/DROP DEFAULT, ADD/DROP/VALIDATE CONSTRAINT (by name, or by definition when
unnamed), CREATE/DROP INDEX (INVALID too), CREATE TYPE ... AS ENUM, ALTER TYPE ... ADD VALUE,
RENAME TABLE/COLUMN/INDEX/CONSTRAINT, CREATE EXTENSION, CREATE SEQUENCE, DROP TYPE / SEQUENCE /
EXTENSION / VIEW. Everything else (DML, DO blocks, functions) is UNKNOWN here; order decides later.
"""

from __future__ import annotations

import re
from typing import Any

from pglast import ast, enums
from pglast.stream import RawStream

from migration_guard.tasks.diagnose.model import CommandCheck, Effect, StatementDiagnosis
from migration_guard.tasks.diagnose.types import format_type_name, same_type
from migration_guard.tasks.schema.model import ConstraintInfo, SchemaSnapshot
from migration_guard.tasks.sql.statements import Statement

AT = enums.AlterTableType
CT = enums.ConstrType
OT = enums.ObjectType

_CONTYPE = {CT.CONSTR_PRIMARY: "p", CT.CONSTR_UNIQUE: "u", CT.CONSTR_FOREIGN: "f", CT.CONSTR_CHECK: "c",
            CT.CONSTR_EXCLUSION: "x"}
_NO_LASTING_EFFECT = (ast.VariableSetStmt, ast.TransactionStmt, ast.VariableShowStmt)


def done(reason: str, name: str | None = None) -> CommandCheck:
    """The effect is present (``name``: the object as found in the catalog)."""
    return CommandCheck(Effect.DONE, reason, name)


def not_done(reason: str, name: str | None = None) -> CommandCheck:
    """The effect is absent."""
    return CommandCheck(Effect.NOT_DONE, reason, name)


def partly(reason: str, name: str | None = None) -> CommandCheck:
    """The effect is there but not as the statement makes it (another type, NOT VALID, INVALID ...)."""
    return CommandCheck(Effect.PARTLY_DONE, reason, name)


def unknown(reason: str) -> CommandCheck:
    """The catalog cannot tell; order inference may decide later."""
    return CommandCheck(Effect.UNKNOWN, reason)


class EffectChecker:
    """Checks statements against one snapshot; ``schema`` is where unqualified names live."""

    def __init__(self, snapshot: SchemaSnapshot, schema: str = "public") -> None:
        self.snapshot = snapshot
        self.schema = schema

    def check(self, statement: Statement) -> StatementDiagnosis:
        """The catalog's verdict on one statement (before order inference)."""
        node = statement.node
        base = dict(index=statement.index, line=statement.line, text=statement.text, kind=statement.kind,
                    node=node, transactional=statement.transactional)
        if node is None:
            return StatementDiagnosis(**base, effect=Effect.NOT_DONE,
                                      reason=f"does not parse ({statement.error}); PostgreSQL cannot have run it")
        if isinstance(node, _NO_LASTING_EFFECT):
            return StatementDiagnosis(**base, effect=Effect.DONE, reason="session setting; no lasting effect",
                                      evidence=False, session_setting=isinstance(node, ast.VariableSetStmt))
        if isinstance(node, ast.AlterTableStmt) and node.objtype == OT.OBJECT_TABLE:
            return self._alter_table(node, base)
        handler = _HANDLERS.get(type(node))
        if handler is None:
            return StatementDiagnosis(**base, effect=Effect.UNKNOWN,
                                      reason=f"{statement.kind}: its effect cannot be read from the catalog")
        result, evidence = handler(self, node)
        extra: dict[str, Any] = {}
        if isinstance(node, ast.IndexStmt) and result.effect is Effect.PARTLY_DONE:
            extra["invalid_index"] = result.resolved_name
        return StatementDiagnosis(**base, effect=result.effect, reason=result.reason, evidence=evidence,
                                  resolved_name=result.resolved_name, **extra)

    # ---- names
    def qualify(self, relation: Any) -> tuple[str, str]:
        """(schema, name) of a RangeVar, unqualified names in the project's schema."""
        return (relation.schemaname or self.schema, relation.relname)

    def _names(self, items: Any) -> tuple[str, str]:
        names = [n.sval for n in items if isinstance(n, ast.String)]
        return (names[-2], names[-1]) if len(names) > 1 else (self.schema, names[-1])

    # ---- ALTER TABLE
    def _alter_table(self, node: ast.AlterTableStmt, base: dict) -> StatementDiagnosis:
        schema, table = self.qualify(node.relation)
        if (schema, table) not in self.snapshot.tables:
            if node.missing_ok:
                return StatementDiagnosis(**base, effect=Effect.DONE, reason=f"table {table} does not exist (IF EXISTS)",
                                          evidence=False)
            return StatementDiagnosis(**base, effect=Effect.NOT_DONE, reason=f"table {table} does not exist")
        checks = tuple(self._alter_command(schema, table, cmd) for cmd in node.cmds or ())
        effects = {c.effect for c in checks}
        unvalidated = next((c.resolved_name for c in checks if c.effect is Effect.PARTLY_DONE and
                            c.reason.startswith("constraint exists but NOT VALID")), None)
        if effects == {Effect.DONE}:
            effect = Effect.DONE
        elif effects == {Effect.NOT_DONE}:
            effect = Effect.NOT_DONE
        elif Effect.UNKNOWN in effects:
            effect = Effect.UNKNOWN
        else:
            effect = Effect.PARTLY_DONE
        if len(checks) == 1:
            reason = checks[0].reason
        else:
            reason = "; ".join(f"{i + 1}: {c.effect.value} ({c.reason})" for i, c in enumerate(checks))
        evidence = not any(getattr(cmd, "missing_ok", False) or _proves_absence_only(cmd) for cmd in node.cmds or ())
        return StatementDiagnosis(**base, effect=effect, reason=reason, commands=checks, evidence=evidence,
                                  resolved_name=checks[0].resolved_name if len(checks) == 1 else None,
                                  unvalidated_constraint=unvalidated)

    def _alter_command(self, schema: str, table: str, cmd: ast.AlterTableCmd) -> CommandCheck:
        subtype = cmd.subtype
        column = self.snapshot.column(schema, table, cmd.name) if cmd.name else None
        if subtype == AT.AT_AddColumn:
            return self._add_column(schema, table, cmd.def_)
        if subtype == AT.AT_DropColumn:
            return not_done(f"column {cmd.name} still exists") if column else done(f"column {cmd.name} is gone")
        if subtype in (AT.AT_SetNotNull, AT.AT_DropNotNull, AT.AT_ColumnDefault, AT.AT_AlterColumnType) and column is None:
            return not_done(f"column {cmd.name} does not exist")
        if subtype == AT.AT_SetNotNull:
            return done(f"{cmd.name} is NOT NULL") if not column.nullable else not_done(f"{cmd.name} is still nullable")
        if subtype == AT.AT_DropNotNull:
            return done(f"{cmd.name} is nullable") if column.nullable else not_done(f"{cmd.name} is still NOT NULL")
        if subtype == AT.AT_ColumnDefault:
            if cmd.def_ is None:
                return done(f"{cmd.name} has no default") if column.default is None else not_done(
                    f"{cmd.name} still has DEFAULT {column.default}")
            if column.default is None:
                return not_done(f"{cmd.name} has no default yet")
            wanted = RawStream()(cmd.def_)
            if _normalize_expression(wanted).replace("'", "") != _normalize_expression(column.default).replace("'", ""):
                return not_done(f"{cmd.name} has DEFAULT {column.default}, the migration sets {wanted}")
            return done(f"{cmd.name} has DEFAULT {column.default}")
        if subtype == AT.AT_AlterColumnType:
            expected = format_type_name(cmd.def_.typeName, self.schema)
            verdict = same_type(expected, column.type)
            if verdict is None:
                return unknown(f"type of {cmd.name} cannot be compared offline")
            return done(f"{cmd.name} is {column.type}") if verdict else not_done(
                f"{cmd.name} is still {column.type} (wanted {expected})")
        if subtype == AT.AT_AddConstraint:
            return self._add_constraint(schema, table, cmd.def_)
        if subtype == AT.AT_DropConstraint:
            found = self.snapshot.constraints.get((schema, table, cmd.name))
            return not_done(f"constraint {cmd.name} still exists") if found else done(f"constraint {cmd.name} is gone")
        if subtype == AT.AT_ValidateConstraint:
            found = self.snapshot.constraints.get((schema, table, cmd.name))
            if found is None:
                return not_done(f"constraint {cmd.name} does not exist")
            return done(f"constraint {cmd.name} is validated", cmd.name) if found.validated else not_done(
                f"constraint {cmd.name} is still NOT VALID", cmd.name)
        return unknown(f"ALTER TABLE sub-command {subtype.name} is not checked against the catalog")

    def _add_column(self, schema: str, table: str, column_def: ast.ColumnDef) -> CommandCheck:
        name = column_def.colname
        column = self.snapshot.column(schema, table, name)
        if column is None:
            return not_done(f"column {name} does not exist")
        problems = []
        expected = format_type_name(column_def.typeName, self.schema)
        if same_type(expected, column.type) is False:
            problems.append(f"type is {column.type}, the migration says {expected}")
        wants_not_null = bool(column_def.is_not_null) or any(
            isinstance(c, ast.Constraint) and c.contype in (CT.CONSTR_NOTNULL, CT.CONSTR_PRIMARY)
            for c in column_def.constraints or ())
        if wants_not_null and column.nullable:
            problems.append("it is nullable, the migration says NOT NULL")
        if not wants_not_null and not column.nullable:
            problems.append("it is NOT NULL, the migration says nullable")
        if problems:
            return partly(f"column {name} exists but {'; '.join(problems)}", name)
        return done(f"column {name} exists ({column.type}{'' if column.nullable else ' NOT NULL'})", name)

    def _add_constraint(self, schema: str, table: str, constraint: ast.Constraint) -> CommandCheck:
        contype = _CONTYPE.get(constraint.contype)
        if contype is None:
            return unknown(f"constraint kind {constraint.contype.name} is not checked")
        found = self.snapshot.constraints.get((schema, table, constraint.conname)) if constraint.conname else \
            self._constraint_by_definition(schema, table, contype, constraint)
        label = constraint.conname or f"unnamed {_KIND[contype]}"
        if found is None:
            return not_done(f"constraint {label} does not exist")
        if not found.validated and not constraint.skip_validation:
            return partly(f"constraint exists but NOT VALID ({found.name})", found.name)
        return done(f"constraint {found.name} exists{'' if found.validated else ' (NOT VALID, as written)'}",
                    found.name)

    def _constraint_by_definition(self, schema: str, table: str, contype: str,
                                  constraint: ast.Constraint) -> ConstraintInfo | None:
        candidates = [c for c in self.snapshot.table_constraints(schema, table) if c.type == contype]
        if contype == "c":
            wanted = _normalize_expression(RawStream()(constraint.raw_expr)) if constraint.raw_expr else ""
            return next((c for c in candidates if wanted and wanted in _normalize_expression(c.definition)), None)
        columns = tuple(k.sval for k in (constraint.fk_attrs if contype == "f" else constraint.keys) or ())
        return next((c for c in candidates if c.columns == columns), None)


def _proves_absence_only(cmd: ast.AlterTableCmd) -> bool:
    """True for sub-commands whose "done" means something is absent: that may have other causes
    (a cascade, a different starting schema), so it is no proof that the statement ran."""
    if cmd.subtype == AT.AT_ColumnDefault:
        return cmd.def_ is None
    return cmd.subtype in (AT.AT_DropColumn, AT.AT_DropConstraint, AT.AT_DropNotNull)


_KIND = {"p": "primary key", "u": "unique constraint", "f": "foreign key", "c": "check constraint",
         "x": "exclusion constraint"}


def _normalize_expression(text: str) -> str:
    text = re.sub(r"^CHECK\s*", "", text.strip(), flags=re.IGNORECASE)
    text = re.sub(r"::[a-z ]+(\[\])?", "", text)
    return re.sub(r'[\s()"]', "", text).lower()


def _create_table(checker: EffectChecker, node: ast.CreateStmt) -> tuple[CommandCheck, bool]:
    schema, table = checker.qualify(node.relation)
    info = checker.snapshot.tables.get((schema, table))
    if info is None:
        return not_done(f"table {table} does not exist"), True
    wanted = [e.colname for e in node.tableElts or () if isinstance(e, ast.ColumnDef)]
    missing = [c for c in wanted if c not in info.columns]
    if missing:
        return partly(f"table {table} exists without column(s) {', '.join(missing)}", table), not node.if_not_exists
    return done(f"table {table} exists", table), not node.if_not_exists


def _index(checker: EffectChecker, node: ast.IndexStmt) -> tuple[CommandCheck, bool]:
    schema, table = checker.qualify(node.relation)
    evidence = not node.if_not_exists
    if node.idxname:
        info = checker.snapshot.indexes.get((schema, node.idxname))
    else:
        columns = tuple(p.name for p in node.indexParams or () if isinstance(p, ast.IndexElem))
        if any(p.name is None for p in node.indexParams or ()):
            return unknown("unnamed expression index: cannot be matched by definition"), evidence
        info = next((i for i in checker.snapshot.table_indexes(schema, table)
                     if i.columns == columns and i.unique == bool(node.unique)), None)
    label = node.idxname or "unnamed index"
    if info is None:
        return not_done(f"index {label} does not exist"), evidence
    if not info.valid:
        return partly(f"index {info.name} exists but is INVALID (a failed build left it)", info.name), evidence
    return done(f"index {info.name} exists and is valid", info.name), evidence


def _drop(checker: EffectChecker, node: ast.DropStmt) -> tuple[CommandCheck, bool]:
    present, absent = [], []
    snap = checker.snapshot
    for item in node.objects or ():
        if node.removeType in (OT.OBJECT_TABLE, OT.OBJECT_INDEX, OT.OBJECT_SEQUENCE, OT.OBJECT_VIEW,
                               OT.OBJECT_MATVIEW):
            schema, name = checker._names(item)
            exists = snap.relation_exists(schema, name)
        elif node.removeType == OT.OBJECT_TYPE:
            schema, name = checker._names(item.names)
            exists = (schema, name) in snap.enums
        elif node.removeType == OT.OBJECT_EXTENSION:
            name = item.sval
            exists = name in snap.extensions
        else:
            return unknown(f"DROP {node.removeType.name.removeprefix('OBJECT_')} is not checked"), False
        (present if exists else absent).append(name)
    if present and absent:
        return partly(f"still present: {', '.join(present)}; gone: {', '.join(absent)}"), True
    if present:
        return not_done(f"{', '.join(present)} still exist(s)"), True
    return done(f"{', '.join(absent)} gone"), False  # absence may have other causes (a cascade)


def _create_enum(checker: EffectChecker, node: ast.CreateEnumStmt) -> tuple[CommandCheck, bool]:
    key = checker._names(node.typeName)
    labels = checker.snapshot.enums.get(key)
    wanted = tuple(v.sval for v in node.vals or ())
    if labels is None:
        return not_done(f"type {key[1]} does not exist"), True
    if labels[: len(wanted)] != wanted and set(wanted) - set(labels):
        return partly(f"type {key[1]} exists with labels {', '.join(labels)}", key[1]), True
    return done(f"enum {key[1]} exists", key[1]), True


def _alter_enum(checker: EffectChecker, node: ast.AlterEnumStmt) -> tuple[CommandCheck, bool]:
    key = checker._names(node.typeName)
    labels = checker.snapshot.enums.get(key)
    if labels is None:
        return not_done(f"type {key[1]} does not exist"), True
    if node.oldVal:
        if node.newVal in labels and node.oldVal not in labels:
            return done(f"label {node.oldVal} renamed to {node.newVal}"), True
        return not_done(f"label {node.oldVal} not renamed yet"), True
    if node.newVal in labels:
        return done(f"{key[1]} has label {node.newVal!r}"), not node.skipIfNewValExists
    return not_done(f"{key[1]} has no label {node.newVal!r}"), True


def _rename(checker: EffectChecker, node: ast.RenameStmt) -> tuple[CommandCheck, bool]:
    snap = checker.snapshot
    if node.renameType == OT.OBJECT_COLUMN:
        schema, table = checker.qualify(node.relation)
        old = snap.column(schema, table, node.subname) is not None
        new = snap.column(schema, table, node.newname) is not None
    elif node.renameType in (OT.OBJECT_TABLE, OT.OBJECT_INDEX, OT.OBJECT_SEQUENCE, OT.OBJECT_VIEW):
        schema, name = checker.qualify(node.relation)
        old = snap.relation_exists(schema, name)
        new = snap.relation_exists(schema, node.newname)
    elif node.renameType == OT.OBJECT_TABCONSTRAINT:
        schema, table = checker.qualify(node.relation)
        old = (schema, table, node.subname) in snap.constraints
        new = (schema, table, node.newname) in snap.constraints
        if not (old or new):  # the table itself may have been renamed later; be honest
            return unknown("neither constraint name found"), True
    else:
        return unknown(f"RENAME of {node.renameType.name.removeprefix('OBJECT_')} is not checked"), False
    if new and not old:
        return done(f"renamed to {node.newname}"), True
    if old and not new:
        return not_done(f"not renamed yet ({node.newname} does not exist)"), True
    if old and new:
        return unknown("both the old and the new name exist"), True
    return unknown("neither the old nor the new name exists"), True


def _create_extension(checker: EffectChecker, node: ast.CreateExtensionStmt) -> tuple[CommandCheck, bool]:
    if node.extname in checker.snapshot.extensions:
        return done(f"extension {node.extname} is installed"), not node.if_not_exists
    return not_done(f"extension {node.extname} is not installed"), True


def _create_sequence(checker: EffectChecker, node: ast.CreateSeqStmt) -> tuple[CommandCheck, bool]:
    schema, name = checker.qualify(node.sequence)
    if (schema, name) in checker.snapshot.sequences:
        return done(f"sequence {name} exists", name), not node.if_not_exists
    return not_done(f"sequence {name} does not exist"), True


def _create_view(checker: EffectChecker, node: ast.ViewStmt) -> tuple[CommandCheck, bool]:
    schema, name = checker.qualify(node.view)
    if node.replace:
        return unknown("CREATE OR REPLACE VIEW: the previous definition may be the one present"), False
    if checker.snapshot.relation_exists(schema, name):
        return done(f"view {name} exists"), True
    return not_done(f"view {name} does not exist"), True


_HANDLERS = {
    ast.CreateStmt: _create_table,
    ast.IndexStmt: _index,
    ast.DropStmt: _drop,
    ast.CreateEnumStmt: _create_enum,
    ast.AlterEnumStmt: _alter_enum,
    ast.RenameStmt: _rename,
    ast.CreateExtensionStmt: _create_extension,
    ast.CreateSeqStmt: _create_sequence,
    ast.ViewStmt: _create_view,
}

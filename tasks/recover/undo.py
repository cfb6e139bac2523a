"""The inverse (undo) DDL of each statement kind a migration can run (plain logic).

``undo_statement`` answers, for one statement that ran: the SQL that puts the schema back, and
what cannot be put back (a dropped column, DML, a removed enum label ...). The rollback plan
(``plan.rollback_plan``) runs the answers last statement first.

Kinds undone: ALTER TABLE (ADD COLUMN, ADD CONSTRAINT, SET/DROP NOT NULL, VALIDATE; with the
earlier schema also ALTER COLUMN TYPE, SET/DROP DEFAULT, DROP CONSTRAINT), CREATE TABLE, CREATE
INDEX, CREATE TYPE ... AS ENUM, CREATE EXTENSION, CREATE SEQUENCE, CREATE VIEW, RENAME TABLE /
COLUMN / CONSTRAINT, and (with the earlier schema) DROP INDEX.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast import ast, enums

from migration_guard.tasks.diagnose.model import Effect, StatementDiagnosis
from migration_guard.tasks.recover.model import PlanStep
from migration_guard.tasks.schema.model import SchemaSnapshot
from migration_guard.tasks.sql.identifiers import qualified, quoted

AT = enums.AlterTableType
OT = enums.ObjectType


@dataclass
class CreatedHere:
    """What the failed migration itself created (and a rollback drops): tables, and columns added
    to tables that existed before. DML that writes only into these is undone by that drop."""

    tables: set[tuple[str, str]] = field(default_factory=set)
    columns: set[tuple[str, str, str]] = field(default_factory=set)

    def add(self, s: StatementDiagnosis, schema: str) -> None:
        """Record what one statement that ran created."""
        node = s.node
        if isinstance(node, ast.CreateStmt):
            self.tables.add((node.relation.schemaname or schema, node.relation.relname))
        elif isinstance(node, ast.AlterTableStmt):
            table = (node.relation.schemaname or schema, node.relation.relname)
            for cmd, check in zip(node.cmds or (), s.commands or ()):
                if cmd.subtype == AT.AT_AddColumn and check.effect is not Effect.NOT_DONE:
                    self.columns.add((*table, cmd.def_.colname))

    def absorbs(self, node: Any, schema: str) -> str | None:
        """Why dropping what the migration created undoes this DML statement, or None if it does not."""
        relation = getattr(node, "relation", None)
        if not isinstance(node, ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt) or relation is None:
            return None
        if getattr(node, "returningList", None) or getattr(node, "withClause", None):
            return None
        table = (relation.schemaname or schema, relation.relname)
        if table in self.tables:
            return f"it writes only into {relation.relname}, a table this migration created (dropped by the rollback)"
        if isinstance(node, ast.UpdateStmt):
            targets = [t.name for t in node.targetList or () if isinstance(t, ast.ResTarget)]
            if targets and all((*table, c) in self.columns for c in targets):
                listed = ", ".join(targets)
                return (f"it writes only into {relation.relname}.{listed}, column(s) this migration added "
                        "(dropped by the rollback)")
        return None


def undo_statement(s: StatementDiagnosis, schema: str = "public", before: SchemaSnapshot | None = None,
                   created: CreatedHere | None = None) -> tuple[list[PlanStep], list[str]]:
    """The steps that undo one statement that ran, and what of it cannot be undone.

    Args:
        s: the statement (its effect is done or partly done).
        schema: where unqualified names live.
        before: the schema the earlier migrations produce; with it, changed types and defaults are
            restored and dropped indexes and constraints re-created.

    Returns:
        (steps, irreversible): the SQL to run (empty when nothing is left to undo), and one line per
        change that cannot be undone statement by statement (then the answer is: restore the backup).
    """
    node = s.node
    number = s.index + 1
    where = f"statement {number} (line {s.line})"
    absorbed = created.absorbs(node, schema) if created is not None else None
    if absorbed:
        return [], []
    if isinstance(node, ast.AlterTableStmt):
        table_key = (node.relation.schemaname or schema, node.relation.relname)
        table = qualified(*table_key)
        actions, irreversible = [], []
        checks = s.commands or ()
        for cmd, check in reversed(list(zip(node.cmds, checks))):
            if check.effect is Effect.NOT_DONE:
                continue
            undo = undo_alter_command(cmd, check.resolved_name, table_key, before)
            if undo is None:
                irreversible.append(f"{where}: {AT(cmd.subtype).name.removeprefix('AT_')} {cmd.name or ''}".rstrip())
            elif undo:
                actions.append(undo)
        steps = [PlanStep(f"ALTER TABLE {table} {', '.join(actions)}", "undo", True, number)] if actions else []
        return steps, irreversible
    if isinstance(node, ast.CreateStmt):
        return [PlanStep(f"DROP TABLE IF EXISTS {_rel(node.relation, schema)}", "drop the table it created", True, number)], []
    if isinstance(node, ast.IndexStmt):
        name = s.resolved_name or s.invalid_index or node.idxname
        if not name:
            return [], [f"{where}: unnamed index"]
        concurrently = " CONCURRENTLY" if node.concurrent else ""
        return [PlanStep(f"DROP INDEX{concurrently} IF EXISTS {qualified(node.relation.schemaname or schema, name)}",
                         "drop the index it created", not node.concurrent, number)], []
    if isinstance(node, ast.CreateEnumStmt):
        return [PlanStep(f"DROP TYPE IF EXISTS {_names(node.typeName, schema)}", "drop the type it created", True, number)], []
    if isinstance(node, ast.CreateExtensionStmt):
        return [PlanStep(f"DROP EXTENSION IF EXISTS {quoted(node.extname)}", "drop the extension it created", True, number)], []
    if isinstance(node, ast.CreateSeqStmt):
        return [PlanStep(f"DROP SEQUENCE IF EXISTS {_rel(node.sequence, schema)}", "drop the sequence", True, number)], []
    if isinstance(node, ast.ViewStmt) and not node.replace:
        return [PlanStep(f"DROP VIEW IF EXISTS {_rel(node.view, schema)}", "drop the view", True, number)], []
    if isinstance(node, ast.RenameStmt) and node.renameType in (OT.OBJECT_COLUMN, OT.OBJECT_TABLE, OT.OBJECT_TABCONSTRAINT):
        relation = node.relation
        if node.renameType == OT.OBJECT_TABLE:
            renamed = ast.RangeVar(schemaname=relation.schemaname, relname=node.newname, inh=True, relpersistence="p")
            return [PlanStep(f"ALTER TABLE {_rel(renamed, schema)} RENAME TO {quoted(relation.relname)}",
                             "rename back", True, number)], []
        what = "COLUMN" if node.renameType == OT.OBJECT_COLUMN else "CONSTRAINT"
        return [PlanStep(f"ALTER TABLE {_rel(relation, schema)} RENAME {what} {quoted(node.newname)} TO {quoted(node.subname)}",
                         "rename back", True, number)], []
    if isinstance(node, ast.DropStmt) and node.removeType == OT.OBJECT_INDEX and before is not None:
        recreate = []
        for item in node.objects or ():
            names = [n.sval for n in item]
            index = before.indexes.get((names[-2], names[-1]) if len(names) > 1 else (schema, names[-1]))
            if index is None or index.constraint:
                return [], [f"{where}: the dropped index {names[-1]} is not in the earlier schema"]
            recreate.append(PlanStep(index.definition, f"re-create index {index.name}", True, number))
        return recreate, []
    if isinstance(node, ast.AlterEnumStmt):
        return [], [f"{where}: PostgreSQL cannot remove the enum label {node.newVal!r}"]
    return [], [f"{where}: {s.kind} cannot be undone statement by statement"]


def undo_alter_command(cmd: ast.AlterTableCmd, resolved: str | None, table: tuple[str, str] = ("public", ""),
                       before: SchemaSnapshot | None = None) -> str | None:
    """The ALTER TABLE action that undoes one sub-command; '' for nothing to undo; None if impossible.

    Without ``before`` (the schema the earlier migrations produce), changed types and defaults and
    dropped constraints cannot be put back.
    """
    if before is not None:
        restored = _restore_from_before(cmd, table, before)
        if restored is not None:
            return restored
    if cmd.subtype == AT.AT_AddColumn:
        return f"DROP COLUMN IF EXISTS {quoted(cmd.def_.colname)}"
    if cmd.subtype == AT.AT_AddConstraint:
        name = resolved or cmd.def_.conname
        return f"DROP CONSTRAINT IF EXISTS {quoted(name)}" if name else None
    if cmd.subtype == AT.AT_SetNotNull:
        return f"ALTER COLUMN {quoted(cmd.name)} DROP NOT NULL"
    if cmd.subtype == AT.AT_DropNotNull:
        return f"ALTER COLUMN {quoted(cmd.name)} SET NOT NULL"
    if cmd.subtype == AT.AT_ValidateConstraint:
        return ""
    return None


def _restore_from_before(cmd: ast.AlterTableCmd, table: tuple[str, str], before: SchemaSnapshot) -> str | None:
    """Undo a type change, a default change or a dropped constraint from the earlier schema."""
    column = before.column(*table, cmd.name) if cmd.name else None
    if cmd.subtype in (AT.AT_ColumnDefault, AT.AT_AlterColumnType) and cmd.name and column is None:
        return ""  # the column is new in this migration; undoing its ADD COLUMN drops it
    if cmd.subtype == AT.AT_ColumnDefault:
        if column.default is None:
            return f"ALTER COLUMN {quoted(cmd.name)} DROP DEFAULT"
        return f"ALTER COLUMN {quoted(cmd.name)} SET DEFAULT {column.default}"
    if cmd.subtype == AT.AT_AlterColumnType:
        zone = _at_time_zone(cmd)
        if zone is not None and column.type.startswith("timestamp"):
            # `x AT TIME ZONE z` between timestamp and timestamptz is its own inverse; a plain cast back
            # would read the values in the recovering session's TimeZone instead of z
            return f"ALTER COLUMN {quoted(cmd.name)} TYPE {column.type} USING {quoted(cmd.name)} AT TIME ZONE {zone}"
        return f"ALTER COLUMN {quoted(cmd.name)} TYPE {column.type} USING {quoted(cmd.name)}::{column.type}"
    if cmd.subtype == AT.AT_DropConstraint:
        constraint = before.constraints.get((*table, cmd.name))
        if constraint is not None:
            not_valid = "" if constraint.validated else " NOT VALID"
            return f"ADD CONSTRAINT {quoted(cmd.name)} {constraint.definition}{not_valid}"
    return None


def _at_time_zone(cmd: ast.AlterTableCmd) -> str | None:
    """The zone (as an SQL literal) of a type change's `USING <this column> AT TIME ZONE '<zone>'`, else None."""
    using = getattr(cmd.def_, "raw_default", None)
    if not isinstance(using, ast.FuncCall) or [n.sval for n in using.funcname][-1] != "timezone":
        return None
    args = using.args or ()
    if len(args) != 2 or not isinstance(args[0], ast.A_Const) or not isinstance(args[0].val, ast.String):
        return None
    column = args[1]
    if not isinstance(column, ast.ColumnRef) or [getattr(f, "sval", None) for f in column.fields][-1] != cmd.name:
        return None
    return "'" + args[0].val.sval.replace("'", "''") + "'"


def _rel(relation: ast.RangeVar, schema: str) -> str:
    return qualified(relation.schemaname or schema, relation.relname)


def _names(names: Any, schema: str) -> str:
    parts = [n.sval for n in names]
    return qualified(parts[-2], parts[-1]) if len(parts) > 1 else qualified(schema, parts[-1])

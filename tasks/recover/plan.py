"""The repair plan: forward (run only what is not done) or rollback (undo what was done, in
reverse), chosen by mode and by what the diagnosis and the cause allow (plain logic).

``auto`` goes forward only when every remaining statement is known and the failure's cause is
gone; otherwise the plan stops and names the decision to make. Unknown statements are never
guessed. An irreversible step (a dropped column, a type change, DML) turns a rollback into
"restore the backup".
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from pglast import ast, enums
from pglast.stream import RawStream

from migration_guard.tasks.diagnose.model import Diagnosis, Effect, StatementDiagnosis
from migration_guard.tasks.recover.cause import FailureCause, qualified, quote
from migration_guard.tasks.schema.model import SchemaSnapshot

AT = enums.AlterTableType
OT = enums.ObjectType
MODES = ("auto", "forward", "rollback")


@dataclass(frozen=True)
class PlanStep:
    """One SQL statement of the plan.

    Attributes:
        sql: what runs.
        description: why, for people.
        transactional: False when it must run (and commit) on its own: CONCURRENTLY, ADD VALUE.
        statement: 1-based statement number in the migration it comes from, if any.
    """

    sql: str
    description: str
    transactional: bool = True
    statement: int | None = None


@dataclass
class RepairPlan:
    """What recovery will do, or why it will not.

    Attributes:
        direction: forward | rollback | cleanup | none.
        runnable: False when a decision is needed (``blocked_reason`` says which, ``next_step`` how).
        ledger_action: ``applied`` / ``rolled_back`` for the failed migration, or None.
        irreversible: steps a rollback cannot undo (then the answer is: restore the backup).
    """

    direction: str
    migration: str | None = None
    steps: list[PlanStep] = field(default_factory=list)
    ledger_action: str | None = None
    runnable: bool = True
    blocked_reason: str = ""
    next_step: str = ""
    irreversible: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    alternatives: list[str] = field(default_factory=list)
    #: idle sessions holding the migration lock, ended before anything else runs
    terminate: list[str] = field(default_factory=list)

    @property
    def all_transactional(self) -> bool:
        return all(s.transactional for s in self.steps)

    def render(self) -> str:
        """The plan as text: the SQL to run, the ledger change, or the decision to make."""
        lines = [f"plan: {self.direction}" + (f" {self.migration}" if self.migration else "")]
        if not self.runnable:
            lines.append(f"  blocked: {self.blocked_reason}")
        for session in self.terminate:
            lines.append(f"  end the idle session holding the migration lock: {session}")
        for number, step in enumerate(self.steps, 1):
            where = f" [statement {step.statement}]" if step.statement else ""
            mode = "" if step.transactional else " (own transaction)"
            lines.append(f"  {number}. {step.description}{where}{mode}")
            lines.extend(f"       {line}" for line in step.sql.splitlines())
        if self.ledger_action and self.migration:
            lines.append(f"  ledger: mark {self.migration} {self.ledger_action.replace('_', ' ')} "
                         f"(as prisma migrate resolve --{self.ledger_action.replace('_', '-')})")
        for item in self.irreversible:
            lines.append(f"  irreversible: {item}")
        for warning in self.warnings:
            lines.append(f"  warning: {warning}")
        for alternative in self.alternatives:
            lines.append(f"  option: {alternative}")
        if self.next_step:
            lines.append(f"  next: {self.next_step}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "direction": self.direction, "migration": self.migration, "runnable": self.runnable,
            "blocked_reason": self.blocked_reason, "next_step": self.next_step,
            "ledger_action": self.ledger_action, "irreversible": self.irreversible, "warnings": self.warnings,
            "alternatives": self.alternatives, "terminate": self.terminate,
            "steps": [{"sql": s.sql, "description": s.description, "transactional": s.transactional,
                       "statement": s.statement} for s in self.steps],
        }


def choose_plan(diagnosis: Diagnosis, cause: FailureCause | None, mode: str, *, schema: str = "public",
                backup_path: str | None = None, before: SchemaSnapshot | None = None) -> RepairPlan:
    """The plan for ``mode`` (auto | forward | rollback) given the diagnosis and the cause.

    ``before`` is the schema as the earlier migrations leave it (a shadow database's snapshot); with
    it a rollback can restore changed types and defaults and re-create dropped indexes and
    constraints instead of asking for a restore.
    """
    forward = forward_plan(diagnosis, schema)
    rollback = rollback_plan(diagnosis, schema, backup_path, before)
    if mode == "rollback":
        return rollback
    if mode == "forward":
        if forward.runnable and cause is not None and cause.present:
            return _blocked(forward, f"the failure would happen again: {cause.describe()}",
                            _fix_cause_hint(cause), rollback)
        if forward.runnable and cause is not None and cause.present is None:
            forward.warnings.append(f"the cause cannot be re-checked ({cause.describe()}); "
                                    "if it repeats, the transaction rolls back and nothing changes")
        return forward
    if not forward.runnable:
        return _blocked(forward, forward.blocked_reason, forward.next_step, rollback)
    if cause is None or cause.present is not False:
        why = cause.describe() if cause else "the cause is unknown"
        return _blocked(forward, f"auto goes forward only when the failure's cause is gone: {why}",
                        _fix_cause_hint(cause), rollback)
    return forward


def _blocked(plan: RepairPlan, reason: str, next_step: str, rollback: RepairPlan) -> RepairPlan:
    plan.runnable = False
    plan.blocked_reason = reason
    plan.next_step = next_step
    if rollback.runnable:
        plan.alternatives.append("undo what ran and mark it rolled back: migration-guard recover --mode rollback")
    elif rollback.irreversible:
        plan.alternatives.append("a rollback would need the backup restored: " + "; ".join(rollback.irreversible))
    return plan


def _fix_cause_hint(cause: FailureCause | None) -> str:
    if cause is None:
        return "inspect the failure (migration-guard status) and decide: --mode forward or --mode rollback"
    if cause.listing_query:
        return (f"fix the offending rows (list them with: {cause.listing_query.splitlines()[-1]}) then re-run "
                "migration-guard recover; or undo with --mode rollback")
    if cause.blockers:
        return "wait for (or end) the blocking session(s), then re-run migration-guard recover"
    return "fix the cause, then re-run migration-guard recover (or choose --mode forward / --mode rollback)"


# ---- forward
def forward_plan(diagnosis: Diagnosis, schema: str = "public") -> RepairPlan:
    """Run what is not done, each statement in a re-runnable form; then mark the migration applied."""
    plan = RepairPlan("forward", diagnosis.migration, ledger_action="applied")
    unknown = diagnosis.unknown
    if unknown:
        listed = ", ".join(f"{s.index + 1} (line {s.line})" for s in unknown)
        plan.runnable = False
        plan.blocked_reason = f"cannot tell whether statement(s) {listed} ran; recovery never guesses"
        plan.next_step = ("check those statements' effects by hand, then choose: --mode forward after fixing "
                          "the data, or restore the backup")
        return plan
    remaining = diagnosis.remaining
    first = remaining[0].index if remaining else None
    for s in diagnosis.statements:
        if s.session_setting and first is not None and s.index < first:
            plan.steps.append(PlanStep(s.text, "session setting the rest relies on", True, s.index + 1))
    for s in remaining:
        steps, problem = _forward_steps(s, schema)
        if problem:
            plan.runnable = False
            plan.blocked_reason = f"statement {s.index + 1} (line {s.line}) is partly done: {problem}"
            plan.next_step = "finish it by hand or restore the backup, then mark it: migration-guard recover --mode forward"
            return plan
        plan.steps.extend(steps)
    if not remaining:
        plan.warnings.append("every statement's effect is present: only the ledger needs fixing")
    return plan


def _forward_steps(s: StatementDiagnosis, schema: str) -> tuple[list[PlanStep], str | None]:
    number = s.index + 1
    node = s.node
    if s.effect is Effect.NOT_DONE:
        own = not s.transactional or isinstance(node, ast.AlterEnumStmt)
        return [PlanStep(s.text, "run (not done)", not own, number)], None
    if isinstance(node, ast.IndexStmt) and s.invalid_index:
        index_schema = node.relation.schemaname or schema
        concurrently = " CONCURRENTLY" if node.concurrent else ""
        return [
            PlanStep(f"DROP INDEX{concurrently} IF EXISTS {qualified(index_schema, s.invalid_index)}",
                     "drop the INVALID index the failed build left", not node.concurrent, number),
            PlanStep(s.text, "build the index again", s.transactional, number),
        ], None
    if isinstance(node, ast.AlterTableStmt) and s.commands:
        pending, steps = [], []
        for cmd, check in zip(node.cmds, s.commands):
            if check.effect is Effect.NOT_DONE:
                pending.append(cmd)
            elif check.effect is Effect.PARTLY_DONE and cmd.subtype == AT.AT_AddConstraint and check.resolved_name \
                    and s.unvalidated_constraint:
                steps.append(PlanStep(
                    f"ALTER TABLE {qualified(node.relation.schemaname or schema, node.relation.relname)} "
                    f"VALIDATE CONSTRAINT {quote(check.resolved_name)}",
                    "validate the constraint added NOT VALID", True, number))
            elif check.effect is not Effect.DONE:
                return [], check.reason
        if pending:
            partial = copy.deepcopy(node)
            partial.cmds = tuple(pending)
            steps.insert(0, PlanStep(RawStream()(partial), "run the sub-commands not done", True, number))
        return steps, None
    if isinstance(node, ast.DropStmt):
        rewritten = copy.deepcopy(node)
        rewritten.missing_ok = True
        return [PlanStep(RawStream()(rewritten), "drop what is still there", s.transactional, number)], None
    return [], s.reason


# ---- rollback
def rollback_plan(diagnosis: Diagnosis, schema: str = "public", backup_path: str | None = None,
                  before: SchemaSnapshot | None = None) -> RepairPlan:
    """Undo what was done, last first; then mark the migration rolled back."""
    plan = RepairPlan("rollback", diagnosis.migration, ledger_action="rolled_back")
    for s in reversed(diagnosis.statements):
        if s.effect is Effect.NOT_DONE or s.session_setting or isinstance(s.node, ast.TransactionStmt):
            continue
        if s.effect is Effect.UNKNOWN:
            plan.irreversible.append(f"statement {s.index + 1} (line {s.line}) may have run and cannot be undone blindly")
            continue
        steps, irreversible = _undo(s, schema, before)
        plan.steps.extend(steps)
        plan.irreversible.extend(irreversible)
    if plan.irreversible:
        plan.runnable = False
        plan.direction = "rollback"
        where = f" ({backup_path})" if backup_path else ""
        plan.blocked_reason = "some changes cannot be undone statement by statement: restore the backup"
        plan.next_step = (f"restore the pre-recovery backup{where}: migration-guard backup restore <path>, then "
                          "mark the migration rolled back: migration-guard recover --mode rollback")
    return plan


def _undo(s: StatementDiagnosis, schema: str, before: SchemaSnapshot | None = None) -> tuple[list[PlanStep], list[str]]:
    node = s.node
    number = s.index + 1
    where = f"statement {number} (line {s.line})"
    if isinstance(node, ast.AlterTableStmt):
        table_key = (node.relation.schemaname or schema, node.relation.relname)
        table = qualified(*table_key)
        actions, irreversible = [], []
        checks = s.commands or ()
        for cmd, check in reversed(list(zip(node.cmds, checks))):
            if check.effect is Effect.NOT_DONE:
                continue
            undo = _undo_command(cmd, check.resolved_name, table_key, before)
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
        return [PlanStep(f"DROP EXTENSION IF EXISTS {quote(node.extname)}", "drop the extension it created", True, number)], []
    if isinstance(node, ast.CreateSeqStmt):
        return [PlanStep(f"DROP SEQUENCE IF EXISTS {_rel(node.sequence, schema)}", "drop the sequence", True, number)], []
    if isinstance(node, ast.ViewStmt) and not node.replace:
        return [PlanStep(f"DROP VIEW IF EXISTS {_rel(node.view, schema)}", "drop the view", True, number)], []
    if isinstance(node, ast.RenameStmt) and node.renameType in (OT.OBJECT_COLUMN, OT.OBJECT_TABLE, OT.OBJECT_TABCONSTRAINT):
        relation = node.relation
        if node.renameType == OT.OBJECT_TABLE:
            renamed = ast.RangeVar(schemaname=relation.schemaname, relname=node.newname, inh=True, relpersistence="p")
            return [PlanStep(f"ALTER TABLE {_rel(renamed, schema)} RENAME TO {quote(relation.relname)}",
                             "rename back", True, number)], []
        what = "COLUMN" if node.renameType == OT.OBJECT_COLUMN else "CONSTRAINT"
        return [PlanStep(f"ALTER TABLE {_rel(relation, schema)} RENAME {what} {quote(node.newname)} TO {quote(node.subname)}",
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


def _undo_command(cmd: ast.AlterTableCmd, resolved: str | None, table: tuple[str, str] = ("public", ""),
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
        return f"DROP COLUMN IF EXISTS {quote(cmd.def_.colname)}"
    if cmd.subtype == AT.AT_AddConstraint:
        name = resolved or cmd.def_.conname
        return f"DROP CONSTRAINT IF EXISTS {quote(name)}" if name else None
    if cmd.subtype == AT.AT_SetNotNull:
        return f"ALTER COLUMN {quote(cmd.name)} DROP NOT NULL"
    if cmd.subtype == AT.AT_DropNotNull:
        return f"ALTER COLUMN {quote(cmd.name)} SET NOT NULL"
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
            return f"ALTER COLUMN {quote(cmd.name)} DROP DEFAULT"
        return f"ALTER COLUMN {quote(cmd.name)} SET DEFAULT {column.default}"
    if cmd.subtype == AT.AT_AlterColumnType:
        return f"ALTER COLUMN {quote(cmd.name)} TYPE {column.type} USING {quote(cmd.name)}::{column.type}"
    if cmd.subtype == AT.AT_DropConstraint:
        constraint = before.constraints.get((*table, cmd.name))
        if constraint is not None:
            not_valid = "" if constraint.validated else " NOT VALID"
            return f"ADD CONSTRAINT {quote(cmd.name)} {constraint.definition}{not_valid}"
    return None


def _rel(relation: ast.RangeVar, schema: str) -> str:
    return qualified(relation.schemaname or schema, relation.relname)


def _names(names: Any, schema: str) -> str:
    parts = [n.sval for n in names]
    return qualified(parts[-2], parts[-1]) if len(parts) > 1 else qualified(schema, parts[-1])


def debris_steps(invalid: list[Any], unvalidated: list[Any], covered_indexes: set[str]) -> list[PlanStep]:
    """Clean-up steps for failure debris not covered by a migration's own plan: rebuild INVALID
    indexes (drop, then create concurrently from their definition), validate NOT VALID constraints."""
    steps = []
    for index in invalid:
        if index.name in covered_indexes:
            continue
        definition = index.definition.replace(" INDEX ", " INDEX CONCURRENTLY ", 1)
        steps.append(PlanStep(f"DROP INDEX CONCURRENTLY IF EXISTS {qualified(index.schema, index.name)}",
                              f"drop INVALID index {index.name}", False))
        steps.append(PlanStep(definition, f"rebuild index {index.name}", False))
    for constraint in unvalidated:
        steps.append(PlanStep(
            f"ALTER TABLE {qualified(constraint.schema, constraint.table)} VALIDATE CONSTRAINT {quote(constraint.name)}",
            f"validate constraint {constraint.name}", True))
    return steps

"""Choosing the recovery plan: forward (run only what is not done) or rollback (undo what was
done, in reverse), by mode and by what the diagnosis and the cause allow (plain logic).

``auto`` goes forward only when every remaining statement is known and the failure's cause is
gone; otherwise the plan stops and names the decision to make. Unknown statements are never
guessed. An irreversible step (a dropped column, a type change, DML) turns a rollback into
"restore the backup". The SQL of each step comes from ``redo.py`` (forward, and the clean-up of
failure debris) and ``undo.py`` (rollback); the plan's data is ``model.RepairPlan``.
"""

from __future__ import annotations

import shlex

from migration_guard.tasks.diagnose.cause import FailureCause
from migration_guard.tasks.diagnose.model import Diagnosis, Effect
from migration_guard.tasks.recover.model import PlanStep, RepairPlan
from migration_guard.tasks.recover.redo import redo_statement
from migration_guard.tasks.recover.undo import CreatedHere, undo_statement
from migration_guard.tasks.schema.model import SchemaSnapshot
from pglast import ast

MODES = ("auto", "forward", "rollback")

__all__ = ["MODES", "PlanStep", "RepairPlan", "choose_plan", "forward_plan", "rollback_plan"]


def choose_plan(diagnosis: Diagnosis, cause: FailureCause | None, mode: str, *, schema: str = "public",
                backup_path: str | None = None, before: SchemaSnapshot | None = None,
                backup_note: str = "") -> RepairPlan:
    """The plan for ``mode`` (auto | forward | rollback) given the diagnosis and the cause.

    ``before`` is the schema as the earlier migrations leave it (a shadow database's snapshot); with
    it a rollback can restore changed types and defaults and re-create dropped indexes and
    constraints instead of asking for a restore.
    """
    forward = forward_plan(diagnosis, schema)
    rollback = rollback_plan(diagnosis, schema, backup_path, before, backup_note)
    if mode == "rollback":
        return rollback
    if mode == "forward":
        if forward.runnable and cause is not None and cause.present:
            return _blocked(forward, f"the failure would happen again: {cause.describe()}",
                            _fix_cause_hint(cause), rollback, before is not None)
        if forward.runnable and cause is not None and cause.present is None:
            forward.warnings.append(f"the cause cannot be re-checked ({cause.describe()}); "
                                    "if it repeats, the transaction rolls back and nothing changes")
        return forward
    if not forward.runnable:
        return _blocked(forward, forward.blocked_reason, forward.next_step, rollback, before is not None)
    if cause is None or cause.present is not False:
        why = cause.describe() if cause else "the cause is unknown"
        return _blocked(forward, f"auto goes forward only when the failure's cause is gone: {why}",
                        _fix_cause_hint(cause), rollback, before is not None)
    return forward


def _blocked(plan: RepairPlan, reason: str, next_step: str, rollback: RepairPlan, knew_before: bool) -> RepairPlan:
    plan.runnable = False
    plan.blocked_reason = reason
    plan.next_step = next_step
    if rollback.runnable:
        plan.alternatives.append("undo what ran and mark it rolled back: migration-guard recover --mode rollback")
    elif rollback.irreversible and not knew_before:
        # only --mode rollback builds the earlier schema (a shadow database): it re-creates dropped
        # constraints and indexes and restores changed types and defaults from it
        plan.alternatives.append("undo what ran and mark it rolled back: migration-guard recover --mode rollback "
                                 "(it rebuilds the earlier schema in a temporary database to undo "
                                 + "; ".join(rollback.irreversible) + "; only what that cannot undo needs the "
                                 "backup restored)")
    elif rollback.irreversible:
        plan.alternatives.append("a rollback would need the backup restored: " + "; ".join(rollback.irreversible))
    return plan


def _fix_cause_hint(cause: FailureCause | None) -> str:
    if cause is None:
        return "inspect the failure (migration-guard status) and decide: --mode forward or --mode rollback"
    if cause.fix:
        return cause.fix
    if cause.listing_query:
        # the whole query on one line: a helper it defines first (pg_temp.mg_castable on
        # PostgreSQL < 16) must come with it, or the pasted query fails
        listing = " ".join(line.strip() for line in cause.listing_query.splitlines() if line.strip())
        return (f"fix the offending rows (list them with: {listing}) then re-run "
                "migration-guard recover; or undo with --mode rollback")
    if cause.blockers:
        return "wait for (or end) the blocking session(s), then re-run migration-guard recover"
    if cause.present is None:
        return ("decide: the cause cannot be checked without running the statements; run them with "
                "migration-guard recover --mode forward --yes (in one transaction when possible: if it fails "
                "again nothing changes), or undo with migration-guard recover --mode rollback --yes")
    return "fix the cause, then re-run migration-guard recover (or choose --mode forward / --mode rollback)"


def forward_plan(diagnosis: Diagnosis, schema: str = "public") -> RepairPlan:
    """Run what is not done, each statement in a re-runnable form; then mark the migration applied."""
    plan = RepairPlan("forward", diagnosis.migration, ledger_action="applied")
    unknown = diagnosis.unknown
    if unknown:
        listed = ", ".join(f"{s.index + 1} (line {s.line})" for s in unknown)
        plan.runnable = False
        plan.blocked_reason = f"cannot tell whether statement(s) {listed} ran; recovery never guesses"
        plan.next_step = (f"a person must decide whether statement(s) {listed} ran (their effect is in the rows, "
                          "not the schema): if they did, run the statements after them by hand and mark the "
                          f"migration applied (prisma migrate resolve --applied {diagnosis.migration}); if not, run "
                          "them and the rest by hand and mark it the same way; or restore a backup")
        return plan
    remaining = diagnosis.remaining
    first = remaining[0].index if remaining else None
    for s in diagnosis.statements:
        if s.session_setting and first is not None and s.index < first:
            plan.steps.append(PlanStep(s.text, "session setting the rest relies on", True, s.index + 1))
    for s in remaining:
        steps, problem = redo_statement(s, schema)
        if problem:
            plan.runnable = False
            plan.blocked_reason = f"statement {s.index + 1} (line {s.line}) is partly done: {problem}"
            plan.next_step = (f"a person must finish statement {s.index + 1} by hand ({problem}); then "
                              "migration-guard recover --plan diagnoses it done and plans the rest")
            return plan
        plan.steps.extend(steps)
    if not remaining:
        plan.warnings.append("every statement's effect is present: only the ledger needs fixing")
    return plan


def rollback_plan(diagnosis: Diagnosis, schema: str = "public", backup_path: str | None = None,
                  before: SchemaSnapshot | None = None, backup_note: str = "") -> RepairPlan:
    """Undo what was done, last first; then mark the migration rolled back."""
    plan = RepairPlan("rollback", diagnosis.migration, ledger_action="rolled_back")
    created = CreatedHere()
    for s in diagnosis.statements:
        if s.effect in (Effect.DONE, Effect.PARTLY_DONE):
            created.add(s, schema)
    for s in reversed(diagnosis.statements):
        if s.effect is Effect.NOT_DONE or s.session_setting or isinstance(s.node, ast.TransactionStmt):
            continue
        absorbed = created.absorbs(s.node, schema)
        if absorbed and s.effect is not Effect.UNKNOWN:
            plan.notes.append(f"statement {s.index + 1} (line {s.line}, {s.kind}) is undone by the drops: {absorbed}")
            continue
        if s.effect is Effect.UNKNOWN:
            if absorbed:
                plan.notes.append(f"statement {s.index + 1} (line {s.line}) may have run; if it did, the drops "
                                  f"undo it: {absorbed}")
                continue
            plan.irreversible.append(f"statement {s.index + 1} (line {s.line}) may have run and cannot be undone blindly")
            continue
        steps, irreversible = undo_statement(s, schema, before, created)
        plan.steps.extend(steps)
        plan.irreversible.extend(irreversible)
    if plan.irreversible:
        plan.runnable = False
        plan.direction = "rollback"
        plan.blocked_reason = ("some changes cannot be undone statement by statement: only a restore undoes them "
                               "(it also throws away every write since the backup)")
        plan.next_step = restore_advice(backup_path, backup_note, diagnosis.migration)
    return plan


def restore_advice(backup_path: str | None, backup_note: str = "", migration: str = "") -> str:
    """What to do when only a restore undoes ``migration``: the named backup of THIS database, or none
    (then the by-hand path names the migration, so its resolve command runs as printed)."""
    if backup_path:
        return (f"decide: restore the backup of this database taken before the failed attempt "
                f"(migration-guard backup restore {shlex.quote(backup_path)} --replace --yes; its ledger is from "
                "before the attempt, so nothing is left to mark), or finish forward instead: fix the cause, then "
                "migration-guard recover --mode forward --yes")
    return (f"decide: no backup of this database from before the failed attempt exists{backup_note}; finish it "
            "forward (fix the cause, then migration-guard recover --mode forward --yes), or undo the listed "
            f"changes by hand and mark it rolled back (prisma migrate resolve --rolled-back {shlex.quote(migration)})")

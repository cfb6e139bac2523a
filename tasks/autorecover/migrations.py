"""Classes 3 and 4: the oldest failed migration, recovered through recover's own pipeline
(``recover.pipeline.run_recovery``: detect → diagnose → plan → approve → backup → execute → verify).

Recover diagnoses it first (replay in a shadow database when one can be built, else the catalog):

- **nothing ran** (every statement not done; a failed index build's INVALID index is the only
  leftover) → recover's rollback plan: drop that index, mark the migration rolled back exactly as
  ``prisma migrate resolve --rolled-back`` does (``Ledger.mark_rolled_back``). No backup and no drift
  check: no data or schema object of the application changes; recover's verification reads the
  status (rolled back, no INVALID index left, the lock free).
- **something ran** → recover's ``auto`` plan, approved only when it goes forward, the diagnosis
  is a replay, the cause of the failure is gone (re-checked live), and every step is one of the
  migration's own statements; then recover's backup, execution and verification (drift included)
  run as for ``migration-guard recover``.

Anything else (the cause still there, a statement whose effect cannot be told, a plan that would
also clean up other debris, a migration running) is left alone: the action is skipped with
recover's reason, and the healthcheck's migrations alert stands with its command.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import psycopg

from migration_guard.tasks.autorecover.model import (
    DONE, FAILED, MARK_ROLLED_BACK, RECOVER_FORWARD, SKIPPED, Action, error_text,
)
from migration_guard.tasks.diagnose.model import Diagnosis, Effect
from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.models import MigrationStatus
from migration_guard.tasks.project import Project

#: the ``kind`` of a failed index build's statement (pglast's node class name)
_INDEX_STATEMENT = "IndexStmt"


def nothing_ran(diagnosis: Diagnosis) -> bool:
    """True when the diagnosis says no statement of the migration took effect: each is not done,
    a session setting, or a failed index build whose only leftover is its INVALID index."""
    for s in diagnosis.statements:
        if s.session_setting or s.effect is Effect.NOT_DONE:
            continue
        if s.effect is Effect.PARTLY_DONE and s.kind == _INDEX_STATEMENT and s.invalid_index:
            continue
        return False
    return True


def leftover_indexes(diagnosis: Diagnosis) -> list[str]:
    """Names of the INVALID indexes the migration's failed builds left."""
    return [s.invalid_index for s in diagnosis.statements if s.invalid_index]


def action_for(database: str, status: MigrationStatus, diagnosis: Diagnosis, tool: str) -> Action:
    """The action for a failed migration, from its diagnosis (not taken yet)."""
    name = status.name
    if nothing_ran(diagnosis):
        left = leftover_indexes(diagnosis)
        dropping = f", dropping the INVALID index {', '.join(left)} its failed build left" if left else ""
        commands = ("migration-guard recover --mode rollback --yes",)
        if tool == "prisma" and not left:
            commands += (f"prisma migrate resolve --rolled-back {name}",)
        return Action(database, MARK_ROLLED_BACK, f"migration {name}",
                      f"mark the failed migration {name} rolled back (nothing of it ran: {diagnosis.summary}"
                      f"{dropping}), as prisma migrate resolve --rolled-back does", commands)
    remaining = len(diagnosis.remaining)
    return Action(database, RECOVER_FORWARD, f"migration {name}",
                  f"recover the failed migration {name} forward ({diagnosis.summary}; {remaining} statement(s) "
                  "to finish) and mark it applied", ("migration-guard recover --yes",))


def recover_failed(project: Project, status: MigrationStatus, database: str, *, stale_lock_seconds: float,
                   before: Any, after: Any, earlier_failure: Any) -> Action | None:
    """Diagnose the failed migration ``status`` and, when it is in a safe class, recover it through
    recover's pipeline. ``before(action)`` / ``after(action)`` alert around the change (``before``
    runs once the plan is approved, right before anything changes); ``earlier_failure(action)`` says
    whether an earlier run already tried and failed (then it is not tried again).

    Returns:
        The action (done / failed / skipped), or None when the migration has no local file.
    """
    from migration_guard.tasks.recover.pipeline import RecoverOptions, run_recovery
    from migration_guard.tasks.recover.steps import PLAIN_STEPS

    if status.migration is None:
        return None
    started = time.perf_counter()
    try:
        diagnosis, cause = PLAIN_STEPS.diagnose(project, status, 1.0)
    except (MigrationGuardError, psycopg.Error) as exc:
        return Action(database, RECOVER_FORWARD, f"migration {status.name}",
                      f"recover the failed migration {status.name}", ("migration-guard recover",), SKIPPED,
                      f"not diagnosed: {error_text(exc)}")
    action = action_for(database, status, diagnosis, project.ledger.tool)
    if earlier_failure(action):
        action.detail = "not tried again: an earlier auto-recovery of it failed (see its alert); recover it by hand"
        return action
    rolling_back = action.kind == MARK_ROLLED_BACK
    approved: list[bool] = []

    def approve(plan: Any, report: Any) -> bool:
        refusal = _refusal(plan, diagnosis, report.cause, rolling_back)
        if refusal:
            action.detail = f"not a safe class: {refusal}"
            return False
        approved.append(True)
        before(action)
        return True

    def diagnosed(_project: Project, failed: MigrationStatus, _lock_age: float) -> tuple[Any, Any]:
        if failed.name != status.name:
            return PLAIN_STEPS.diagnose(_project, failed, _lock_age)
        return diagnosis, cause

    steps = dataclasses.replace(PLAIN_STEPS, diagnose=diagnosed, alert=lambda _project, _report: "")
    # a rollback of nothing changes no table and no schema object (a failed build's INVALID index
    # aside): no backup and no drift check, the status verifies it; forward runs as recover does
    options = RecoverOptions(mode="rollback" if rolling_back else "auto", backup=not rolling_back,
                             drift=not rolling_back, stale_lock_seconds=stale_lock_seconds)
    try:
        report = run_recovery(project, options, steps, approve)
    except (MigrationGuardError, psycopg.Error) as exc:
        if approved:
            action.state, action.detail = FAILED, error_text(exc)
            after(action)
        else:
            action.detail = f"not recovered: {error_text(exc)}"
        action.seconds = time.perf_counter() - started
        return action
    action.seconds = time.perf_counter() - started
    if not approved:
        if not action.detail:
            action.detail = f"not a safe class: {report.reason or report.outcome}"
            if report.migration and report.migration != status.name:
                action.detail += f" (recover looked at {report.migration})"
        return action
    if report.outcome == "recovered":
        action.state = DONE
        execution = report.execution or {}
        action.detail = "; ".join(p for p in (
            f"{execution.get('steps_run', 0)} step(s) run" if execution.get("steps_run") else "",
            execution.get("ledger", ""), "verified" + (f" (backup {report.backup['path']})" if report.backup else ""),
        ) if p)
    else:
        action.state = FAILED
        next_step = f"next: {report.next_step}" if report.next_step else ""
        action.detail = "; ".join(p for p in (report.reason, next_step) if p)
    after(action)
    return action


def _refusal(plan: Any, diagnosis: Diagnosis, cause: Any, rolling_back: bool) -> str:
    """Why recover's plan is not one auto-recovery may run ('' when it is)."""
    if not plan.runnable:
        return plan.blocked_reason
    if plan.terminate:
        return "it would also end sessions holding the migration lock: " + "; ".join(plan.terminate)
    foreign = [s.description for s in plan.steps if s.statement is None]
    if foreign:
        return "it would also clean up debris outside this migration: " + "; ".join(foreign)
    if rolling_back:
        if plan.direction != "rollback" or plan.irreversible:
            return "the rollback is not a plain ledger fix"
        undone = {i + 1 for i, s in enumerate(diagnosis.statements) if s.invalid_index}
        extra = [s.description for s in plan.steps if s.statement not in undone]
        return "the rollback would undo statements that ran: " + "; ".join(extra) if extra else ""
    if plan.direction != "forward":
        return f"the plan goes {plan.direction}, not forward"
    if diagnosis.method != "replay":
        return f"the diagnosis is not a replay ({diagnosis.note or diagnosis.method})"
    if cause is None or cause.present is not False:
        return "the failure's cause is not known to be gone" + (f": {cause.describe()}" if cause else "")
    return ""

"""Recover a failed migration: detect, explain the cause, plan forward or rollback, execute, verify.

Modules: ``detect`` (failed rows + debris), ``cause`` (failure kinds, classification from the
logs), ``rechecks`` (live dry re-checks and lock blockers), ``classify`` (the two combined),
``model`` (the plan's data), ``plan`` (choosing forward / rollback / decision), ``redo`` /
``undo`` (the forward and inverse DDL of each statement kind), ``execute`` (lock, timeouts,
ledger fix), ``verify`` (status, INVALID indexes, lock, drift), ``report`` (the run's report),
``steps`` (the I/O steps port), ``pipeline`` (the sequence), ``tasks`` (its Prefect tasks).
"""

from migration_guard.tasks.diagnose.cause import FailureCause
from migration_guard.tasks.diagnose.classify import classify_failure
from migration_guard.tasks.recover.model import PlanStep, RepairPlan
from migration_guard.tasks.recover.plan import MODES, choose_plan, forward_plan, rollback_plan

__all__ = ["MODES", "FailureCause", "PlanStep", "RepairPlan", "choose_plan", "classify_failure", "forward_plan",
           "rollback_plan"]

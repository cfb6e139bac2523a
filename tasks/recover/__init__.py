"""Repair a failed migration: detect, explain the cause, plan forward or rollback, execute, verify.

Modules: ``detect`` (failed rows + debris), ``cause`` (classification + dry re-checks),
``plan`` (forward / rollback / decision), ``execute`` (lock, timeouts, ledger fix),
``verify`` (status, INVALID indexes, lock, drift).
"""

from migration_guard.tasks.recover.cause import FailureCause, classify_failure
from migration_guard.tasks.recover.plan import MODES, PlanStep, RepairPlan, choose_plan, forward_plan, rollback_plan

__all__ = ["MODES", "FailureCause", "PlanStep", "RepairPlan", "choose_plan", "classify_failure", "forward_plan",
           "rollback_plan"]

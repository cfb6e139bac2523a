"""A recovery plan as data: its SQL steps, the ledger change, or the decision to make (plain data,
rendered for people and as JSON). ``plan.py`` chooses a plan; ``redo.py`` / ``undo.py`` write its SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
    #: what the plan undoes without a step of its own (DML whose writes the drops remove)
    notes: list[str] = field(default_factory=list)
    alternatives: list[str] = field(default_factory=list)
    #: idle sessions holding the migration lock, ended before anything else runs
    terminate: list[str] = field(default_factory=list)

    @property
    def all_transactional(self) -> bool:
        """True when every step can run inside one transaction (then the ledger fix joins it)."""
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
        for note in self.notes:
            lines.append(f"  undone by a drop: {note}")
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
        """The plan as JSON-ready data (the ``plan`` of ``recover --json``)."""
        return {
            "direction": self.direction, "migration": self.migration, "runnable": self.runnable,
            "blocked_reason": self.blocked_reason, "next_step": self.next_step,
            "ledger_action": self.ledger_action, "irreversible": self.irreversible, "warnings": self.warnings, "notes": self.notes,
            "alternatives": self.alternatives, "terminate": self.terminate,
            "steps": [{"sql": s.sql, "description": s.description, "transactional": s.transactional,
                       "statement": s.statement} for s in self.steps],
        }

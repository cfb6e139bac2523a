"""What the diagnosis says about each statement of a failed migration (plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class Effect(StrEnum):
    """Whether a statement's effect is present in the database."""

    DONE = "done"
    NOT_DONE = "not_done"
    PARTLY_DONE = "partly_done"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CommandCheck:
    """The effect of one sub-command of an ALTER TABLE (or the single effect of a statement)."""

    effect: Effect
    reason: str
    #: name of the object as found in the catalog (unnamed constraints / indexes get resolved)
    resolved_name: str | None = None


@dataclass(frozen=True)
class StatementDiagnosis:
    """One statement, what the catalog says about it, and why.

    Attributes:
        index / line: 0-based position and 1-based line in the file.
        kind: the pglast node class (``AlterTableStmt`` ...).
        effect: done / not_done / partly_done / unknown (after order inference).
        reason: why, in one sentence.
        inferred: True when the effect comes from statement order, not from the catalog.
        evidence: False when "done" proves nothing about order (IF NOT EXISTS, IF EXISTS, SET).
        commands: per sub-command checks of an ALTER TABLE (empty otherwise).
        invalid_index: name of an INVALID index this statement left behind.
        unvalidated_constraint: name of a NOT VALID constraint this statement meant to validate.
        session_setting: a SET statement (no lasting effect; re-run before the rest).
    """

    index: int
    line: int
    text: str
    kind: str
    effect: Effect
    reason: str
    inferred: bool = False
    evidence: bool = True
    commands: tuple[CommandCheck, ...] = ()
    resolved_name: str | None = None
    invalid_index: str | None = None
    unvalidated_constraint: str | None = None
    session_setting: bool = False
    node: Any = field(default=None, repr=False, compare=False)
    transactional: bool = True

    def with_effect(self, effect: Effect, reason: str) -> StatementDiagnosis:
        """A copy with an order-inferred effect."""
        return replace(self, effect=effect, reason=reason, inferred=True)

    @property
    def summary(self) -> str:
        """The statement's first line, shortened."""
        first = " ".join(self.text.split())
        return first if len(first) <= 90 else first[:87] + "..."


@dataclass
class Diagnosis:
    """The whole migration: one entry per statement, the failing statement, timings."""

    migration: str
    statements: list[StatementDiagnosis] = field(default_factory=list)
    failing_index: int | None = None
    failing_source: str = ""
    parse_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: how it was found: "replay" (a shadow database) or "catalog" (reading the live catalog)
    method: str = "catalog"
    note: str = ""

    def count(self, effect: Effect) -> int:
        """How many statements have ``effect``."""
        return sum(1 for s in self.statements if s.effect is effect)

    @property
    def unknown(self) -> list[StatementDiagnosis]:
        """Statements whose effect cannot be told, in order."""
        return [s for s in self.statements if s.effect is Effect.UNKNOWN]

    @property
    def remaining(self) -> list[StatementDiagnosis]:
        """Statements whose effect is not (fully) present, in order."""
        return [s for s in self.statements if s.effect in (Effect.NOT_DONE, Effect.PARTLY_DONE)]

    @property
    def done(self) -> list[StatementDiagnosis]:
        """Statements whose effect is (at least partly) present, in order."""
        return [s for s in self.statements if s.effect in (Effect.DONE, Effect.PARTLY_DONE)]

    @property
    def failing(self) -> StatementDiagnosis | None:
        """The statement the attempt failed on, if known."""
        if self.failing_index is None:
            return None
        return self.statements[self.failing_index]

    @property
    def summary(self) -> str:
        """Counts per effect, e.g. ``2 done, 1 not_done``."""
        parts = [f"{self.count(e)} {e.value}" for e in Effect if self.count(e)]
        return ", ".join(parts) if parts else "no statements"

    def to_rows(self) -> list[dict[str, Any]]:
        """Table rows for reports and artifacts."""
        return [
            {"#": s.index + 1, "line": s.line, "statement": s.summary, "effect": s.effect.value,
             "why": s.reason + (" (inferred from order)" if s.inferred else "")}
            for s in self.statements
        ]

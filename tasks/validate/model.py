"""Validate results as plain data: one :class:`CheckResult` per check, a :class:`ValidationReport`.

Statuses are the validate suite's words for the check kernel's verdicts (``tasks/checks``):
PASS / WARN / FAIL / SKIP; a check that could not run is FAIL (a gate fails closed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from migration_guard.tasks.checks.check import Verdict


class CheckStatus(StrEnum):
    """PASS: fine. WARN: worth a look, does not block (unless strict). FAIL: do not migrate now.
    SKIP: not run (an earlier check failed, or switched off)."""

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"


#: the kernel's verdicts in the validate suite's words; UNKNOWN (the check could not run) is FAIL:
#: "not verified" is "not safe to migrate" (the healthcheck says UNKNOWN instead)
STATUS_OF_VERDICT: dict[Verdict, CheckStatus] = {
    Verdict.PASS: CheckStatus.PASS,
    Verdict.WARN: CheckStatus.WARN,
    Verdict.FAIL: CheckStatus.FAIL,
    Verdict.UNKNOWN: CheckStatus.FAIL,
    Verdict.SKIP: CheckStatus.SKIP,
}
VERDICT_OF_STATUS: dict[CheckStatus, Verdict] = {
    CheckStatus.PASS: Verdict.PASS,
    CheckStatus.WARN: Verdict.WARN,
    CheckStatus.FAIL: Verdict.FAIL,
    CheckStatus.SKIP: Verdict.SKIP,
}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    Attributes:
        name: stable identifier (``connectivity``, ``idle-transactions`` ...).
        title: what was checked, for people.
        status: PASS / WARN / FAIL / SKIP.
        reason: one line saying what was found.
        details: one line per offending object (session, lock, index ...).
        fix: what to do about it (a command or SQL when there is one).
        data: machine-readable extras (JSON-able).
    """

    name: str
    title: str
    status: CheckStatus
    reason: str
    details: tuple[str, ...] = ()
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> Verdict:
        """This result in the check kernel's words."""
        return VERDICT_OF_STATUS[self.status]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "status": self.status.value, "reason": self.reason,
            "details": list(self.details), "fix": self.fix, "data": self.data,
        }


@dataclass(frozen=True)
class ValidationReport:
    """Every check's result, and the verdict."""

    database: str
    checks: tuple[CheckResult, ...]
    strict: bool = False
    duration_s: float = 0.0

    def by_status(self, status: CheckStatus) -> list[CheckResult]:
        return [c for c in self.checks if c.status is status]

    def get(self, name: str) -> CheckResult | None:
        return next((c for c in self.checks if c.name == name), None)

    @property
    def ok(self) -> bool:
        """No FAIL (and, when strict, no WARN)."""
        if self.by_status(CheckStatus.FAIL):
            return False
        return not (self.strict and self.by_status(CheckStatus.WARN))

    @property
    def exit_code(self) -> int:
        """0 safe to migrate, 1 not (see ``ok``)."""
        return 0 if self.ok else 1

    @property
    def backup(self) -> dict[str, Any] | None:
        """The verified backup's metadata when the backup check took one."""
        check = self.get("backup")
        return check.data.get("backup") if check and check.status is CheckStatus.PASS else None

    @property
    def summary(self) -> str:
        counts = [f"{len(self.by_status(s))} {s.value.lower()}" for s in CheckStatus if self.by_status(s)]
        verdict = "safe to migrate" if self.ok else "NOT safe to migrate"
        return f"{verdict} ({', '.join(counts)})"

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON shape of `migration-guard validate --json` (keys only ever added)."""
        return {
            "database": self.database,
            "ok": self.ok,
            "strict": self.strict,
            "exit_code": self.exit_code,
            "summary": self.summary,
            "counts": {s.value: len(self.by_status(s)) for s in CheckStatus},
            "duration_s": self.duration_s,
            "checks": [c.to_dict() for c in self.checks],
            "backup": self.backup,
        }

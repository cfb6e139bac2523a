"""The healthcheck suite's words on top of the check kernel (``tasks/checks``): a check looks at
one database and returns an :class:`Outcome` carrying at most one :class:`Problem` (which becomes
an alert); the runner turns it into a :class:`CheckResult` with a monitoring status. Plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import psycopg

from migration_guard.tasks.checks.check import Check, Verdict
from migration_guard.tasks.healthcheck.config import HealthcheckConfig
from migration_guard.tasks.healthcheck.target import DatabaseTarget


class CheckStatus(StrEnum):
    """Monitoring states; the CLI's exit code is 0 / 1 / 2 / 3 in this order."""

    OK = "OK"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"
    UNKNOWN = "UNKNOWN"

    @property
    def exit_code(self) -> int:
        return {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}[self.value]


#: the kernel's verdicts in monitoring words (a healthcheck never SKIPs: a check that does not
#: apply is not reported at all)
STATUS_OF_VERDICT: dict[Verdict, CheckStatus] = {
    Verdict.PASS: CheckStatus.OK,
    Verdict.WARN: CheckStatus.WARNING,
    Verdict.FAIL: CheckStatus.CRITICAL,
    Verdict.UNKNOWN: CheckStatus.UNKNOWN,
}


@dataclass(frozen=True)
class Problem:
    """What is wrong, in the alert's words. ``suggestions`` are exact commands or queries."""

    severity: str  # HIGH | MEDIUM | LOW
    category: str
    title: str
    message: str
    impact: str
    suggestions: tuple[str, ...] = ()
    original_error: str = ""
    #: which problem this is beyond check/database/category; a different key is a new alert
    key: str = ""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one database."""

    database: str
    check: str
    status: CheckStatus
    summary: str
    observed_value: float | int | str | None = None
    observed_unit: str | None = None
    duration_ms: float = 0.0
    problem: Problem | None = None

    @property
    def key(self) -> str:
        """``database:check`` (the health+json key)."""
        return f"{self.database}:{self.check}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "check": self.check,
            "status": self.status.value,
            "summary": self.summary,
            "observed_value": self.observed_value,
            "observed_unit": self.observed_unit,
            "duration_ms": round(self.duration_ms, 1),
            "severity": self.problem.severity if self.problem else None,
            "category": self.problem.category if self.problem else None,
        }


@dataclass
class CheckContext:
    """What a check gets: the database (open connection), its settings and thresholds."""

    target: DatabaseTarget
    conn: psycopg.Connection
    settings: Any
    config: HealthcheckConfig
    now: datetime


@dataclass(frozen=True)
class Outcome:
    """What a check function returns; the runner adds database, name, status and timing."""

    summary: str
    observed_value: float | int | str | None = None
    observed_unit: str | None = None
    problem: Problem | None = None
    unknown: bool = False

    @property
    def verdict(self) -> Verdict:
        """UNKNOWN when the check could not judge; PASS without a problem; FAIL for a HIGH
        problem (it pages); WARN for MEDIUM / LOW."""
        if self.unknown:
            return Verdict.UNKNOWN
        if self.problem is None:
            return Verdict.PASS
        return Verdict.FAIL if self.problem.severity == "HIGH" else Verdict.WARN


#: a healthcheck check: looks at one database through its CheckContext, returns an Outcome
HealthCheck = Check[CheckContext, Outcome]


def status_of(outcome: Outcome) -> CheckStatus:
    """OK without a problem; CRITICAL for a HIGH problem; WARNING for MEDIUM / LOW."""
    return STATUS_OF_VERDICT[outcome.verdict]


def worst(statuses: list[CheckStatus]) -> CheckStatus:
    """Overall status: any CRITICAL, else any WARNING, else any UNKNOWN, else OK."""
    for candidate in (CheckStatus.CRITICAL, CheckStatus.WARNING, CheckStatus.UNKNOWN):
        if candidate in statuses:
            return candidate
    return CheckStatus.OK


def max_severity(severities: list[str]) -> str:
    """The highest of HIGH / MEDIUM / LOW."""
    order = {"LOW": 1, "MEDIUM": 2, "HIGH": 3}
    return max(severities, key=lambda s: order.get(s, 0))

"""The check contract: a check looks at one database and returns a :class:`CheckResult`,
carrying at most one :class:`Problem` (which becomes an alert). Plain data, no I/O."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

    from migration_guard.tasks.healthcheck.config import HealthcheckConfig


class CheckStatus(StrEnum):
    """Monitoring states; the CLI's exit code is 0 / 1 / 2 / 3 in this order."""

    OK = "OK"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"
    UNKNOWN = "UNKNOWN"

    @property
    def exit_code(self) -> int:
        return {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}[self.value]


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


@dataclass(frozen=True)
class DatabaseTarget:
    """One database to watch. ``dsn`` is secret: never print it (``name`` is the label)."""

    name: str
    dsn: str = field(repr=False)
    migrations_dir: Path | None = None
    migration_tool: str | None = None
    schema: str | None = None


@dataclass
class CheckContext:
    """What a check gets: the database (open connection), its settings and thresholds."""

    target: DatabaseTarget
    conn: psycopg.Connection
    settings: Any
    config: HealthcheckConfig
    now: datetime


CheckFunction = Callable[[CheckContext], "Outcome"]


@dataclass(frozen=True)
class Outcome:
    """What a check function returns; the runner adds database, name, status and timing."""

    summary: str
    observed_value: float | int | str | None = None
    observed_unit: str | None = None
    problem: Problem | None = None
    unknown: bool = False


@dataclass(frozen=True)
class Check:
    """A registered check: a name, what it does, and the function that does it."""

    name: str
    description: str
    run: CheckFunction
    applies: Callable[[CheckContext], bool] = lambda ctx: True


def status_of(outcome: Outcome) -> CheckStatus:
    """OK without a problem; CRITICAL for a HIGH problem; WARNING for MEDIUM / LOW."""
    if outcome.unknown:
        return CheckStatus.UNKNOWN
    if outcome.problem is None:
        return CheckStatus.OK
    return CheckStatus.CRITICAL if outcome.problem.severity == "HIGH" else CheckStatus.WARNING


def worst(statuses: list[CheckStatus]) -> CheckStatus:
    """Overall status: any CRITICAL, else any WARNING, else any UNKNOWN, else OK."""
    for candidate in (CheckStatus.CRITICAL, CheckStatus.WARNING, CheckStatus.UNKNOWN):
        if candidate in statuses:
            return candidate
    return CheckStatus.OK


def max_severity(severities: list[str]) -> str:
    order = {"LOW": 1, "MEDIUM": 2, "HIGH": 3}
    return max(severities, key=lambda s: order.get(s, 0))


def quote_name(part: str) -> str:
    """One identifier quoted as PostgreSQL needs it (anything but plain lower-case ASCII, and keywords),
    so a suggestion people copy runs as exactly one statement on exactly that object."""
    from pglast.keywords import UNRESERVED_KEYWORDS

    plain = part.isascii() and part.isidentifier() and part == part.lower()
    if plain and (part in UNRESERVED_KEYWORDS or not _is_keyword(part)):
        return part
    return '"' + part.replace('"', '""') + '"'


def _is_keyword(word: str) -> bool:
    from pglast.keywords import COL_NAME_KEYWORDS, RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS

    return word in RESERVED_KEYWORDS or word in TYPE_FUNC_NAME_KEYWORDS or word in COL_NAME_KEYWORDS


def quote_literal_ident(schema: str, name: str) -> str:
    """``schema.name`` quoted as PostgreSQL would need it, for suggestions people copy."""
    return f"{quote_name(schema)}.{quote_name(name)}"

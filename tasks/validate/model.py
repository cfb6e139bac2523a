"""Validation results as plain data: one :class:`CheckResult` per check, a :class:`ValidationReport`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class CheckStatus(StrEnum):
    """PASS: fine. WARN: worth a look, does not block (unless strict). FAIL: do not migrate now.
    SKIP: not run (an earlier check failed, or switched off)."""

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"


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


def artifact_key(database: str) -> str:
    """``validation-<database>`` restricted to what Prefect accepts (lowercase, digits, dashes)."""
    slug = re.sub(r"[^a-z0-9]+", "-", database.lower()).strip("-") or "database"
    return f"validation-{slug}"


def report_markdown(report: ValidationReport) -> str:
    """The report as a markdown table (the Prefect artifact)."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [f"# Validation of {report.database}: {report.summary}", "",
             "| check | status | reason | fix |", "|---|---|---|---|"]
    for check in report.checks:
        reason = cell(check.reason) + "".join(f"<br>• {cell(d)}" for d in check.details[:10])
        lines.append(f"| {cell(check.title)} | **{check.status.value}** | {reason} | {cell(check.fix)} |")
    return "\n".join(lines) + "\n"

"""Lint findings as plain data: what is wrong, where, why it is dangerous and the safe way to write it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
SEVERITY_RANK: dict[str, int] = {"error": 2, "warning": 1, "info": 0}


@dataclass(frozen=True)
class Finding:
    """One problem found in a migration.

    Attributes:
        rule: the rule code (``require-concurrent-index-creation`` ...).
        severity: ``error`` | ``warning`` | ``info``.
        message: one line naming the object and the problem.
        path: the file (or ``<sql>``).
        line / column / end_line: 1-based span of the statement (of the parse error for
            ``syntax-error``).
        statement_index: 0-based index of the statement in the file (-1 for file-level findings).
        why: why it is dangerous (the rule's problem statement).
        fix: the safe way to write it, with SQL (for a blocking policy finding it ends with the
            exact acknowledgement to add).
        acknowledgement: for a blocking policy finding (a destructive change made on purpose), the
            ignore comment that acknowledges it, to put on the line directly above the statement.
    """

    rule: str
    severity: Severity
    message: str
    path: str = "<sql>"
    line: int = 1
    column: int = 1
    end_line: int = 1
    statement_index: int = -1
    why: str = ""
    fix: str = ""
    acknowledgement: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with stable keys (the `--json` output of `migration-guard lint`)."""
        return asdict(self)

    def location(self) -> str:
        """``path:line:column`` as compilers print it."""
        return f"{self.path}:{self.line}:{self.column}"


def has_errors(findings: list[Finding] | tuple[Finding, ...], *, strict: bool = False) -> bool:
    """True when a finding is an error (or, with ``strict``, a warning)."""
    worst = "warning" if strict else "error"
    return any(SEVERITY_RANK[f.severity] >= SEVERITY_RANK[worst] for f in findings)


def sort_key(finding: Finding) -> tuple[str, int, int, int, str]:
    """Order findings by file, then position, the most severe first, then rule."""
    return (finding.path, finding.line, finding.column, -SEVERITY_RANK[finding.severity], finding.rule)

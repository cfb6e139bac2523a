"""The recovery report: what was found, diagnosed, planned, done and verified (plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migration_guard.tasks.diagnose.model import Diagnosis
from migration_guard.tasks.diagnose.cause import FailureCause
from migration_guard.tasks.recover.model import RepairPlan

OUTCOMES = ("nothing_to_do", "recovered", "not_recovered", "planned", "declined", "recovered_unverified")


@dataclass
class RecoveryReport:
    """Everything a recovery run learned and did.

    Attributes:
        outcome: nothing_to_do | recovered | not_recovered | planned | declined.
        exit_code: 0 recovered / nothing to do / plan printed; 1 not recovered or declined.
        reason / next_step: why it is not recovered, and what to do next.
        timings: seconds per phase (detect, backup, diagnose, repair = the plan's execution, verify, total).
        alerts: what the alert step did (None when it did not run: ``--plan``).
    """

    outcome: str
    database: str = ""
    migration: str | None = None
    reason: str = ""
    next_step: str = ""
    findings: list[str] = field(default_factory=list)
    diagnosis: Diagnosis | None = None
    cause: FailureCause | None = None
    plan: RepairPlan | None = None
    execution: dict[str, Any] | None = None
    verification: dict[str, Any] | None = None
    backup: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    alerts: str | None = None
    #: the approver's answer in a flow run (approved, comment, by, at); None when nobody was asked
    approval: dict[str, Any] | None = None

    @property
    def exit_code(self) -> int:
        """0 recovered / nothing to do / plan printed; 1 not recovered or declined; 4 recovered, not
        verified (the repair committed, verification must be re-run)."""
        if self.outcome == "recovered_unverified":
            return 4
        return 0 if self.outcome in ("nothing_to_do", "recovered", "planned") else 1

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (what ``recover --json`` prints and the flow returns)."""
        data = {
            "outcome": self.outcome, "exit_code": self.exit_code, "database": self.database,
            "migration": self.migration, "reason": self.reason, "next_step": self.next_step,
            "findings": self.findings,
            "diagnosis": None if self.diagnosis is None else {
                "summary": self.diagnosis.summary, "failing_statement": None if self.diagnosis.failing_index is None
                else self.diagnosis.failing_index + 1, "failing_source": self.diagnosis.failing_source,
                "statements": self.diagnosis.to_rows(), "seconds": round(self.diagnosis.seconds, 4),
                "method": self.diagnosis.method, "note": self.diagnosis.note},
            "cause": None if self.cause is None else self.cause.to_dict(),
            "plan": None if self.plan is None else self.plan.to_dict(),
            "execution": self.execution, "verification": self.verification, "backup": self.backup,
            "warnings": self.warnings, "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }
        if self.alerts is not None:
            data["alerts"] = self.alerts
        if self.approval is not None:
            data["approval"] = self.approval
        return data

    def markdown(self) -> str:
        """The report as a markdown artifact."""
        title = {"nothing_to_do": "nothing to recover", "recovered": "recovered", "not_recovered": "NOT recovered",
                 "planned": "plan only", "declined": "plan declined",
                 "recovered_unverified": "recovered, NOT verified"}[self.outcome]
        out = [f"# Recovery: {title}", "", f"Database: `{self.database}`"]
        if self.migration:
            out.append(f"Migration: `{self.migration}`")
        if self.reason:
            out += ["", f"**Reason:** {self.reason}"]
        if self.next_step:
            out += ["", f"**Next step:** `{self.next_step}`" if "\n" not in self.next_step else self.next_step]
        out += ["", "## Detection"] + [f"- {line}" for line in self.findings or ["nothing found"]]
        if self.diagnosis is not None:
            out += ["", f"## Diagnosis ({self.diagnosis.summary})", "", "| # | line | statement | effect | why |",
                    "|---|---|---|---|---|"]
            for row in self.diagnosis.to_rows():
                statement = row["statement"].replace("|", "\\|")
                out.append(f"| {row['#']} | {row['line']} | `{statement}` | {row['effect']} | {row['why']} |")
        if self.cause is not None:
            out += ["", "## Cause", "", self.cause.describe()]
            if self.cause.listing_query:
                out += ["", "Offending rows:", "", "```sql", self.cause.listing_query, "```"]
        if self.plan is not None:
            out += ["", "## Plan", "", "```", self.plan.render(), "```"]
        if self.approval is not None:
            verdict = "approved" if self.approval.get("approved") else "declined"
            out += ["", "## Approval", "", f"- {verdict} by {self.approval.get('by') or 'nobody (timed out)'} "
                    f"at {self.approval.get('at')}"]
            if self.approval.get("comment"):
                out.append(f"- comment: {self.approval['comment']}")
        if self.execution is not None:
            out += ["", "## Result", ""] + [f"- {k}: {v}" for k, v in self.execution.items() if v not in ("", [], None)]
        if self.verification is not None:
            out += ["", "## Verification", "", f"- ok: {self.verification['ok']}",
                    f"- status: {self.verification['status']}"]
            out += [f"- problem: {p}" for p in self.verification["problems"]]
            out += [f"- warning: {w}" for w in self.verification["warnings"]]
            drift = self.verification.get("drift")
            if drift:
                out.append(f"- drift: {'none' if drift['clean'] else drift['differences'] or drift['reason']} "
                           f"({drift['shadow'] or 'no shadow'})")
        if self.backup is not None:
            out += ["", "## Backup", "", f"- {self.backup.get('path')} ({self.backup.get('size_bytes')} bytes, "
                    f"verified: {self.backup.get('verified')})"]
        for warning in self.warnings:
            out.append(f"- warning: {warning}")
        if self.timings:
            out += ["", "## Timings (s)", "", "| phase | seconds |", "|---|---|"]
            out += [f"| {k} | {v:.3f} |" for k, v in self.timings.items()]
        return "\n".join(out) + "\n"

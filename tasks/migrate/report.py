"""What one safe-migrate run did (``SafeMigrateReport``), the report as markdown (Prefect artifact,
CLI output) and the artifact's key."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from migration_guard.tasks import artifacts

#: the Prefect artifact key prefix of safe-migrate reports and dry-run plans
ARTIFACT_PREFIX = "safe-migrate"


@dataclass
class SafeMigrateReport:
    """What one safe-migrate run did, and what to do next when it failed."""

    target: str
    tool: str
    started_at: float = field(default_factory=time.time)
    ok: bool = False
    failed_stage: str | None = None
    error: str = ""
    error_category: str = ""
    suggestion: str = ""
    committed: bool = False  # migrations were applied before the failure
    validation: dict[str, Any] | None = None
    ignored_checks: list[str] = field(default_factory=list)
    #: blocking destructive changes still to acknowledge: rule, location, message, acknowledgement (the comment)
    acknowledgements: list[dict[str, Any]] = field(default_factory=list)
    #: destructive changes acknowledged for this run (by comment or --allow): rule, location, message, by
    acknowledged: list[dict[str, Any]] = field(default_factory=list)
    backup: dict[str, Any] | None = None
    apply: dict[str, Any] | None = None
    hooks: list[dict[str, Any]] = field(default_factory=list)
    startup_check: dict[str, Any] | None = None
    verify: dict[str, Any] | None = None
    restored: dict[str, Any] | None = None
    recovery: list[str] = field(default_factory=list)
    #: set when the connection was lost while applying: in_flight, committed (from the ledger), ledger_read
    lost_connection: dict[str, Any] | None = None
    rollback_choices: list[str] = field(default_factory=list)
    #: a failure on data: the shared cause analysis with its rows (``tasks/migrate/cause.DataFailure.to_dict``)
    cause: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def applied(self) -> list[str]:
        """Names of the migrations this run applied."""
        return list((self.apply or {}).get("applied", []))

    @property
    def exit_code(self) -> int:
        """0 when the run succeeded, else 1."""
        return 0 if self.ok else 1

    @property
    def backup_path(self) -> str | None:
        """Where this run's pre-migrate backup is, None when none was taken."""
        return str(self.backup["path"]) if self.backup and self.backup.get("path") else None

    @property
    def summary(self) -> str:
        """One line: what was applied, or where and why it failed."""
        if self.ok:
            return f"applied {len(self.applied)} migration(s)" if self.applied else "no pending migrations"
        return f"FAILED at {self.failed_stage}: {self.error}"

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-able data (CLI ``--json``, the flow's return value)."""
        return {
            "target": self.target, "tool": self.tool, "ok": self.ok, "exit_code": self.exit_code,
            "summary": self.summary, "failed_stage": self.failed_stage, "error": self.error,
            "error_category": self.error_category, "suggestion": self.suggestion, "committed": self.committed,
            "applied": self.applied, "validation": self.validation, "ignored_checks": self.ignored_checks,
            "backup": self.backup, "apply": self.apply, "hooks": self.hooks, "startup_check": self.startup_check,
            "verify": self.verify, "restored": self.restored, "recovery": self.recovery,
            "rollback_choices": self.rollback_choices, "cause": self.cause, "timings": self.timings,
            "lost_connection": self.lost_connection, "acknowledgements": self.acknowledgements,
            "acknowledged": self.acknowledged,
        }


def cause_lines(cause: dict[str, Any] | None) -> list[str]:
    """Markdown of a failure on data: what failed, the rows (count and the query that lists them,
    as one pasteable block) and what to do."""
    if not cause:
        return []
    return ["## Cause: the data, not the migration's SQL", "", cause["what_failed"], "",
            f"{cause['offending_rows']} row(s); list them with:", "", "```sql", cause["listing_query"], "```", ""]


def artifact_key(target: str) -> str:
    """``safe-migrate-<database>``: the slug of the database name (after the last ``/`` of the target)."""
    return artifacts.artifact_key(ARTIFACT_PREFIX, target.rsplit("/", 1)[-1])


def report_markdown(report: dict[str, Any]) -> str:
    """Markdown of ``SafeMigrateReport.to_dict()``: verdict, what ran, timings, lock waits, backup,
    and on failure the recovery commands and rollback choices."""
    verdict = "✅ completed" if report["ok"] else f"❌ failed at **{report['failed_stage']}**"
    lines = [f"# safe-migrate {report['target']}: {verdict}", "", report["summary"], ""]
    lines += acknowledgement_lines(report.get("acknowledgements") or [])
    if not report["ok"]:
        lines += cause_lines(report.get("cause"))
        lines += ["## What to do now", ""]
        lines += [f"- {_code_after_colon(step)}" for step in report.get("recovery", [])]
        if report.get("rollback_choices"):
            lines += ["", "### Rollback choices (migrations were committed)", ""]
            lines += [f"{n}. {_code_after_colon(choice)}" for n, choice in enumerate(report["rollback_choices"], 1)]
        if report.get("restored"):
            lines += ["", f"Restore performed (--on-failure=restore): {report['restored']}"]
        lines.append("")
    timings = report.get("timings", {})
    if timings:
        lines += ["## Stages", "", "| stage | seconds |", "| --- | --- |"]
        lines += [f"| {stage} | {seconds:.2f} |" for stage, seconds in timings.items()]
        lines.append("")
    validation = report.get("validation")
    if validation and validation.get("checks"):
        lines += ["## Validation", "", "| check | status | reason |", "| --- | --- | --- |"]
        lines += [f"| {c['name']} | {c['status']} | {_cell(c.get('reason', ''))} |" for c in validation["checks"]]
        lines += [f"- handled by migrate: {line}" for line in report.get("ignored_checks", [])]
        lines.append("")
    acknowledged = report.get("acknowledged") or []
    if acknowledged:
        lines += ["## Acknowledged destructive changes", "",
                  "Applied on purpose in this run (review them):", ""]
        lines += [f"- {a['location']} {a['rule']}: {_cell(a.get('message', ''), 160)} — acknowledged by {a['by']}"
                  for a in acknowledged]
        lines.append("")
    backup = report.get("backup")
    if backup:
        lines += ["## Backup", "", f"`{backup.get('path')}` — {backup.get('size_bytes', 0)} bytes, "
                  f"verified: {backup.get('verified')} ({backup.get('verify_level')}), sha256 `{str(backup.get('sha256', ''))[:16]}…`", ""]
        if backup.get("restore_point"):
            from migration_guard.tasks.backup.metadata import restore_point_line

            lines[-1:-1] = ["", restore_point_line(backup["restore_point"])]
    applied = report.get("apply")
    if applied:
        lines += ["## Migrations", "",
                  f"Migration lock waited {applied.get('lock_waited_s', 0):.2f}s"
                  + (f" (held by {'; '.join(applied['lock_holders_seen'])})" if applied.get("lock_holders_seen") else ""), ""]
        lines += ["| migration | mode | result | statements | seconds | attempts | ledger |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for m in applied.get("migrations", []):
            result = "applied" if m["ok"] else f"FAILED at {m.get('failed_step')}"
            lines.append(f"| {m['name']} | {m['mode']} | {result} | {m['steps_done']}/{m['total_steps']} | "
                         f"{m['elapsed_s']:.2f} | {m['attempts']} | {_cell(m.get('ledger_state', ''))} |")
        waits = [w for m in applied.get("migrations", []) for w in m.get("lock_waits", [])]
        if waits:
            lines += ["", "Lock waits (lock_timeout hit, retried with backoff):", ""]
            lines += [f"- {_cell(w, 300)}" for w in waits]
        cleanups = [c for m in applied.get("migrations", []) for c in m.get("cleanups", [])]
        lines += [f"- cleaned up: `{c}`" for c in cleanups]
        if not applied.get("migrations"):
            lines.append("No pending migrations.")
        lines.append("")
    for hook in report.get("hooks", []):
        lines += [f"- hook `{hook['name']}`: {'ok' if hook['ok'] else hook['error']} ({hook['duration_s']:.2f}s)"]
    check = report.get("startup_check")
    if check:
        lines += [f"- start-up check `{check['name']}`: {'ok' if check['ok'] else check['error']} ({check['duration_s']:.2f}s)"]
    verify = report.get("verify")
    if verify:
        lines += ["", "## Verification", "", f"- status: {verify.get('status')}",
                  f"- INVALID indexes: {', '.join(verify.get('invalid_indexes', [])) or 'none'}",
                  f"- NOT VALID constraints: {', '.join(verify.get('not_valid_constraints', [])) or 'none'}"]
        if verify.get("running"):
            lines.append(f"- running now, not by this run (wait for it): {'; '.join(verify['running'])}")
        if verify.get("indexes_being_built"):
            lines.append(f"- being built by a live session (not debris): {', '.join(verify['indexes_being_built'])}")
        if verify.get("validated_constraints"):
            lines.append(f"- validated: {', '.join(verify['validated_constraints'])}")
    return "\n".join(lines) + "\n"


def acknowledgement_lines(needed: list[dict[str, Any]]) -> list[str]:
    """The section that stops a run on destructive changes: for each, where it is and the exact
    comment to put directly above its statement (printed bare, so it pastes as is), then the
    command to re-run, and the ``--allow`` alternative."""
    if not needed:
        return []
    rules = ",".join(sorted({a["rule"] for a in needed}))
    lines = ["## Acknowledge the destructive changes", "",
             f"{len(needed)} change(s) lose data and are blocked until acknowledged. If intended, put the line shown "
             "directly above each statement:", ""]
    for a in needed:
        lines += [f"- {a['location']} {a['rule']}: {_cell(a.get('message', ''), 160)}", "",
                  f"      {a['acknowledgement']}", ""]
    lines += ["then re-run: `migration-guard migrate`", "",
              f"or acknowledge them for this run only: `migration-guard migrate --allow {rules}`", "",
              f"(a run of the safe-migrate deployment: `{trigger_with_allow(needed)}`)", ""]
    return lines


def trigger_with_allow(needed: list[dict[str, Any]]) -> str:
    """The ``trigger`` command that starts the safe-migrate deployment with the needed
    acknowledgements as its ``allow`` parameter (pastes into a POSIX shell as printed)."""
    rules = json.dumps(sorted({a["rule"] for a in needed}), separators=(",", ":"))
    return f"migration-guard trigger safe-migrate --param 'allow={rules}'"


def _cell(text: str, limit: int = 200) -> str:
    flat = " ".join(str(text).split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _code_after_colon(text: str) -> str:
    """Put the command after the last ': ' in backticks so it copies cleanly."""
    head, sep, command = text.rpartition(": ")
    if sep and command.startswith(("migration-guard", "psql", "SELECT")):
        return f"{head}: `{command}`"
    return text

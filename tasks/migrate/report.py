"""The safe-migrate report as markdown (Prefect artifact, CLI output) and its artifact key."""

from __future__ import annotations

import re
from typing import Any


def artifact_key(target: str) -> str:
    """``safe-migrate-<database>`` restricted to what Prefect accepts (lowercase, digits, dashes)."""
    database = target.rsplit("/", 1)[-1]
    slug = re.sub(r"[^a-z0-9]+", "-", database.lower()).strip("-") or "database"
    return f"safe-migrate-{slug}"


def report_markdown(report: dict[str, Any]) -> str:
    """Markdown of ``SafeMigrateReport.to_dict()``: verdict, what ran, timings, lock waits, backup,
    and on failure the recovery commands and rollback choices."""
    verdict = "✅ completed" if report["ok"] else f"❌ failed at **{report['failed_stage']}**"
    lines = [f"# safe-migrate {report['target']}: {verdict}", "", report["summary"], ""]
    if not report["ok"]:
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
    backup = report.get("backup")
    if backup:
        lines += ["## Backup", "", f"`{backup.get('path')}` — {backup.get('size_bytes', 0)} bytes, "
                  f"verified: {backup.get('verified')} ({backup.get('verify_level')}), sha256 `{str(backup.get('sha256', ''))[:16]}…`", ""]
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
        if verify.get("validated_constraints"):
            lines.append(f"- validated: {', '.join(verify['validated_constraints'])}")
    return "\n".join(lines) + "\n"


def _cell(text: str, limit: int = 200) -> str:
    flat = " ".join(str(text).split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _code_after_colon(text: str) -> str:
    """Put the command after the last ': ' in backticks so it copies cleanly."""
    head, sep, command = text.rpartition(": ")
    if sep and command.startswith(("migration-guard", "psql", "SELECT")):
        return f"{head}: `{command}`"
    return text

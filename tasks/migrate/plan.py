"""The ``--dry-run`` plan: every pending migration, its statements, the lock each takes, how it
runs (one transaction or step by step), lint findings, and the steps around it. Read-only: it
reads the files and the ledger and takes no lock."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from migration_guard.tasks.db import connection
from migration_guard.tasks.errors import MigrationGuardError
from migration_guard.tasks.lint.config import load_config
from migration_guard.tasks.lint.context import LintContext
from migration_guard.tasks.lint.engine import lint_migrations
from migration_guard.tasks.migrate.apply import ApplyOptions, PreparedMigration, pending_work, prepare_migration
from migration_guard.tasks.models import Migration
from migration_guard.tasks.project import Project, read_ledger, read_migrations
from migration_guard.tasks.sql.locks import lock_for


@dataclass(frozen=True)
class PlannedStatement:
    label: str
    line: int
    sql: str
    transactional: bool
    locks: tuple[str, ...] = ()
    runs_as: str | None = None
    skipped: bool = False  # already applied by an interrupted run that will be resumed


@dataclass(frozen=True)
class PlannedMigration:
    name: str
    mode: str
    statements: tuple[PlannedStatement, ...]
    resume_from: int | None = None
    notes: tuple[str, ...] = ()
    findings: tuple[str, ...] = ()


@dataclass
class MigrationPlan:
    """What ``migrate`` would do now."""

    target: str
    tool: str
    ledger_table: str
    migrations: list[PlannedMigration] = field(default_factory=list)
    blocked: str | None = None
    lint_note: str = ""  # always empty now that lint always ships; kept: it is part of the plan's JSON
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_plan(project: Project, options: ApplyOptions, *, hooks: list[list[str]] | None = None,
               startup_check: str | None = None, backup: bool = True, validate: bool = True) -> MigrationPlan:
    """The plan for ``project`` (read-only).

    Raises:
        MigrationFileError: a migration file is unreadable or does not parse.
        DatabaseError: the ledger cannot be read.
    """
    migrations = read_migrations(project)
    _exists, entries = read_ledger(project)
    plan = MigrationPlan(
        target=project.target, tool=project.ledger.tool, ledger_table=project.ledger.display_table,
        settings={
            "validate": validate, "backup": f"yes, into {project.settings.backup_dir}" if backup else "no",
            "migration lock": f"pg_advisory_lock({project.ledger.lock_key}), wait up to {options.lock_wait_s:g}s",
            "lock_timeout": str(options.lock_timeout), "statement_timeout": str(options.statement_timeout),
            "retry budget": f"{options.retry_budget_s:g}s per statement (exponential backoff with jitter)",
            "post-migrate hooks": [" ".join(h) for h in hooks or []] or "none",
            "start-up check": startup_check or "none",
        },
    )
    try:
        work = pending_work(migrations, entries, project.ledger.tool)
    except MigrationGuardError as exc:
        plan.blocked = f"{exc.message} — {exc.suggestion}"
        return plan
    prepared = [(prepare_migration(m), resume) for m, resume in work]
    findings = _lint([p.migration for p, _ in prepared], project)
    for item, resume in prepared:
        plan.migrations.append(_planned(item, resume.applied_steps_count if resume else None,
                                        findings.get(str(item.migration.path), []), project.schema))
    return plan


def _planned(item: PreparedMigration, resume_from: int | None, findings: list[str], schema: str) -> PlannedMigration:
    statements = []
    for index, step in enumerate(item.steps):
        original = step.statement.text if step.statement is not None else step.sql
        statements.append(PlannedStatement(
            label=step.label, line=step.statement.line if step.statement is not None else 0,
            sql=original, transactional=step.transactional, locks=tuple(_locks(step.statement, schema)),
            runs_as=step.sql if step.rewritten else None,
            skipped=resume_from is not None and index < resume_from,
        ))
    return PlannedMigration(item.name, item.mode, tuple(statements), resume_from, item.notes, tuple(findings))


def _locks(statement: Any, schema: str) -> list[str]:
    if statement is None:
        return []
    described = []
    for lock in lock_for(statement, schema):
        extra = " (rewrites the table)" if lock.rewrites else " (new table)" if lock.creates else ""
        described.append(f"{lock.mode} on {lock.kind} {lock.schema}.{lock.table}{extra}")
    return described


def _lint(migrations: list[Migration], project: Project) -> dict[str, list[str]]:
    """Live lint, exactly as validate's lint check runs it (same configuration, the live table
    sizes), so the dry run and the real run report the same findings."""
    if not migrations:
        return {}
    by_path: dict[str, list[str]] = {}
    with connection(project.dsn, connect_timeout=project.settings.connect_timeout) as conn:
        findings = lint_migrations(migrations, conn=conn, config=load_config(),
                                   context=LintContext(default_schema=project.schema, tool=project.ledger.tool))
    for finding in findings:
        by_path.setdefault(finding.path, []).append(
            f"{finding.severity} {finding.rule} (line {finding.line}): {finding.message}"
        )
    return by_path


def plan_markdown(plan: MigrationPlan) -> str:
    """The plan as markdown (the dry-run artifact and CLI output)."""
    lines = [f"# safe-migrate plan (dry run) — {plan.target}", "",
             f"Tool: {plan.tool}, ledger `{plan.ledger_table}`. **Nothing was changed.**", ""]
    lines += ["| step | setting |", "| --- | --- |"]
    for key, value in plan.settings.items():
        shown = ", ".join(f"`{v}`" for v in value) if isinstance(value, list) else str(value)
        lines.append(f"| {key} | {shown} |")
    lines.append("")
    if plan.blocked:
        lines += ["## Blocked", "", plan.blocked, ""]
        return "\n".join(lines)
    if not plan.migrations:
        lines += ["No pending migrations: nothing to apply.", ""]
    for migration in plan.migrations:
        resume = f", resumes at statement {migration.resume_from + 1}" if migration.resume_from is not None else ""
        lines += [f"## {migration.name}", "", f"Runs **{migration.mode}**{resume}.", ""]
        lines += ["| # | line | statement | in transaction | locks |", "| --- | --- | --- | --- | --- |"]
        for number, statement in enumerate(migration.statements, 1):
            text = _cell(statement.runs_as or statement.sql)
            if statement.runs_as:
                text += " _(rewritten to be re-runnable)_"
            if statement.skipped:
                text = f"~~{text}~~ (already applied)"
            lines.append(f"| {number} | {statement.line} | `{text}` | {'yes' if statement.transactional else 'no'} | "
                         f"{_cell('; '.join(statement.locks)) or '—'} |")
        lines.append("")
        for note in migration.notes:
            lines.append(f"- note: {note}")
        for finding in migration.findings:
            lines.append(f"- lint: {finding}")
        lines.append("")
    return "\n".join(lines)


def _cell(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split()).replace("|", "\\|").replace("`", "'")
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."

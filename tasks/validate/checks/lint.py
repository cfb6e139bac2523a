"""Lint of the pending migrations (live mode: table sizes decide how dangerous a lock is)."""

from __future__ import annotations

from migration_guard.tasks.validate.base import Check, check_connection
from migration_guard.tasks.validate.context import ValidationContext
from migration_guard.tasks.validate.model import CheckResult, CheckStatus


def run(ctx: ValidationContext) -> CheckResult:
    from migration_guard.tasks.lint.config import load_config
    from migration_guard.tasks.lint.context import LintContext
    from migration_guard.tasks.lint.engine import has_errors, lint_migrations

    pending = ctx.pending_migrations
    if not pending:
        return CHECK.result(CheckStatus.PASS, "no pending migrations to lint")
    config = load_config()
    with check_connection(ctx) as conn:
        findings = lint_migrations(pending, conn=conn, config=config,
                                   context=LintContext(default_schema=ctx.schema, tool=ctx.project.ledger.tool))
    acknowledged = _acknowledged_findings(pending, findings, ctx, config)
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    details = [f"{f.severity} {f.rule} at {f.location()}: {f.message}" for f in errors + warnings]
    data = {"findings": [f.to_dict() for f in findings], "acknowledged": acknowledged}
    names = ", ".join(m.name for m in pending[:3]) + (" …" if len(pending) > 3 else "")
    if has_errors(findings):
        first_fix = next((f.fix for f in errors if f.fix), "")
        return CHECK.result(CheckStatus.FAIL, f"{len(errors)} lint error(s) in {len(pending)} pending migration(s) ({names})",
                            details, fix=(first_fix + "  — details: migration-guard lint").strip(), **data)
    if warnings:
        return CHECK.result(CheckStatus.WARN, f"{len(warnings)} lint warning(s) in {len(pending)} pending migration(s)",
                            details, fix="review with: migration-guard lint", **data)
    return CHECK.result(CheckStatus.PASS, f"{len(pending)} pending migration(s) lint clean", **data)


#: a same-length spelling of the directive that the suppression parser does not recognise
_NEUTRAL = "migration-guard:ignorX"


def _acknowledged_findings(pending: list, findings: list, ctx: ValidationContext, config) -> list[dict]:
    """The findings an ``-- migration-guard:ignore RULE reason`` comment in the pending migrations
    silenced: each finding's dict plus ``acknowledged_by`` (the comment) and ``reason``, so a
    reviewer sees every destructive change that was acknowledged. Lints again, without the
    comments, only the migrations that hold one (line numbers are kept)."""
    from dataclasses import replace

    from migration_guard.tasks.lint.context import LintContext
    from migration_guard.tasks.lint.engine import lint_migrations
    from migration_guard.tasks.lint.suppressions import parse_directives

    marked = [m for m in pending if "migration-guard:ignore" in m.sql]
    if not marked:
        return []
    unmarked = [replace(m, sql=m.sql.replace("migration-guard:ignore", _NEUTRAL)) for m in marked]
    with check_connection(ctx) as conn:
        raw = lint_migrations(unmarked, conn=conn, config=config,
                              context=LintContext(default_schema=ctx.schema, tool=ctx.project.ledger.tool))
    seen = {(f.rule, f.path, f.line, f.column) for f in findings}
    directives = {str(m.path): parse_directives(m.sql) for m in marked}
    acknowledged = []
    for finding in raw:
        if (finding.rule, finding.path, finding.line, finding.column) in seen or finding.severity == "info":
            continue
        directive = next((d for d in directives.get(finding.path, []) if finding.rule in d.rules), None)
        if directive is None:
            continue
        acknowledged.append({**finding.to_dict(), "location": finding.location(),
                             "acknowledged_by": f"-- migration-guard:ignore {','.join(directive.rules)} {directive.reason}".strip(),
                             "reason": directive.reason})
    return acknowledged


CHECK = Check("lint", "Lint of pending migrations", run,
              why="a migration that locks a busy table or rewrites it stalls the application")

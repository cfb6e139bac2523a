"""`migration-guard lint`: check migrations for dangerous SQL before they run (read-only, no Prefect)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from migration_guard.cli.output import handle_errors, print_error, print_json

FORMATS = ("text", "json", "github")


def lint(
    ctx: typer.Context,
    paths: Optional[list[Path]] = typer.Argument(
        None, help="Migration files or folders (folders: every *.sql inside, sorted). Default: the project's pending migrations.",
        show_default=False,
    ),
    pending: bool = typer.Option(False, "--pending", help="Lint the project's pending migrations (needs DATABASE_URL); the default without PATH."),
    as_json: bool = typer.Option(False, "--json", help="Same as --format json."),
    output_format: str = typer.Option("text", "--format", "-f", help="text (compiler style) | json | github (workflow annotations)."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 on warnings too."),
    explain: Optional[str] = typer.Option(None, "--explain", help="Print what RULE catches and the safe way to write it, then exit.", show_default=False),
    explain_all: bool = typer.Option(False, "--explain-all", help="Print every rule as Markdown (this is docs/lint-rules.md), then exit."),
    pg_version: Optional[str] = typer.Option(None, "--pg-version", help="PostgreSQL version the migrations will run on (e.g. 12 or 15.4); default: the live server's, else 15.", show_default=False),
) -> None:
    """Lint migrations with PostgreSQL's own parser: locks, rewrites, destructive changes, transactions, types.

    Live mode: with a database (global --database-url or $DATABASE_URL) row estimates and sizes of the touched tables re-level blocking findings (tiny table: info, large table: error).

    Tables created earlier in the same run count as new (no lock findings). SQL inside DO blocks, functions and EXECUTE'd string literals is linted too.

    Suppress with `-- migration-guard:ignore RULE[,RULE] reason` before a statement (before the first statement: whole file). Configure with LINT_DISABLE=rule,rule and LINT_SEVERITY=rule=warning,rule2=off, or \\[tool.migration-guard.lint] in ./pyproject.toml. Rules: --explain-all or docs/lint-rules.md.

    Exit codes: 0 no errors; 1 errors found (warnings too with --strict); 2 bad usage or configuration (unknown rule or format, missing path, unreachable database).
    """
    fmt = "json" if as_json else output_format.lower()
    if fmt not in FORMATS:
        print_error(f"unknown --format {output_format!r}", "use text, json or github")
        raise typer.Exit(2)
    if explain is not None or explain_all:
        _explain(explain)
        return
    version_num = _version_num(pg_version) if pg_version is not None else None
    _lint(ctx.obj, list(paths or []), pending, fmt, strict, version_num)


def _version_num(text: str) -> int:
    """``15`` / ``15.4`` / ``9.6`` → server_version_num (150000, 150004, 90600); exits 2 on anything else."""
    parts = text.strip().split(".")
    if not (1 <= len(parts) <= 3 and all(p.isdigit() for p in parts)):
        print_error(f"--pg-version {text!r} is not a PostgreSQL version", "write it like 15 or 15.4")
        raise typer.Exit(2)
    numbers = [int(p) for p in parts] + [0, 0]
    return numbers[0] * 10000 + numbers[1] if numbers[0] >= 10 else numbers[0] * 10000 + numbers[1] * 100 + numbers[2]


def _explain(code: str | None) -> None:
    from migration_guard.tasks.lint.explain import explain, rules_markdown
    from migration_guard.tasks.lint.registry import get_rule

    if code is None:
        sys.stdout.write(rules_markdown())
        return
    rule = get_rule(code)
    if rule is None:
        print_error(f"unknown lint rule {code!r}", "run `migration-guard lint --explain-all` to list the rules")
        raise typer.Exit(2)
    sys.stdout.write(explain(rule))


@handle_errors(error_exit_code=2, config_exit_code=2)
def _lint(options, paths: list[Path], pending: bool, fmt: str, strict: bool, version_num: int | None = None) -> None:
    from migration_guard.tasks.errors import ConfigError
    from migration_guard.tasks.lint.config import load_config
    from migration_guard.tasks.lint.findings import has_errors

    if paths and pending:
        raise ConfigError("--pending and PATH arguments exclude each other", "pass either migration files or --pending")
    config = load_config()
    settings = options.settings()
    if paths:
        findings, files, statements = _lint_paths(paths, settings, config, version_num)
    else:
        findings, files, statements = _lint_pending(options, settings, config, version_num)
    _render(findings, fmt, files, statements)
    raise typer.Exit(1 if has_errors(findings, strict=strict) else 0)


def _lint_paths(paths: list[Path], settings, config, version_num: int | None = None):
    from migration_guard.tasks.lint.context import LintContext
    from migration_guard.tasks.lint.files import collect_sql_files, read_sql
    from migration_guard.tasks.models import Migration

    files = collect_sql_files(paths)
    findings, migrations = [], []
    for path in files:
        text, problem = read_sql(path)
        if problem is not None:
            findings.extend(config.apply([problem]))
        else:
            migrations.append(Migration(name=path.stem, path=path, sql=text, checksum=""))
    context = LintContext(default_schema=settings.db_schema, tool=_runner_of(paths, settings),
                          target_version_num=version_num)
    findings.extend(_run(migrations, settings.database_url, settings.connect_timeout, config, context))
    return findings, len(files), _count_statements(migrations)


def _runner_of(paths: list[Path], settings) -> str | None:
    """Which tool runs the linted files (rules such as transaction-control and prefer-robust-stmts
    depend on it): MIGRATION_TOOL; else prisma for files in a Prisma migrations folder; else the
    tool detected for the project's migrations folder when every path is inside it; else unknown."""
    from migration_guard.tasks.errors import ConfigError
    from migration_guard.tasks.ledgers import detect_tool
    from migration_guard.tasks.ledgers.prisma import looks_like_prisma

    if settings.migration_tool:
        return settings.migration_tool
    folders = [p if p.is_dir() else p.parent for p in paths]
    if folders and all(looks_like_prisma(f) or (f.parent.is_dir() and looks_like_prisma(f.parent)) for f in folders):
        return "prisma"
    project_dir = settings.found_migrations_dir()
    if project_dir is None or not project_dir.is_dir():
        return None
    root = project_dir.resolve()
    if not all(f.resolve() == root or root in f.resolve().parents for f in folders):
        return None
    try:
        return detect_tool(project_dir)
    except ConfigError:
        return None


def _lint_pending(options, settings, config, version_num: int | None = None):
    from migration_guard.tasks.errors import ConfigError
    from migration_guard.tasks.lint.context import LintContext
    from migration_guard.tasks.status.pipeline import read_status

    if settings.database_url is None:
        raise ConfigError(
            "no PATH given and DATABASE_URL is not set, so pending migrations are unknown",
            "pass migration files (migration-guard lint prisma/migrations) or set DATABASE_URL / --database-url",
        )
    project = options.project()
    report = read_status(project)
    migrations = [s.migration for s in report.pending if s.migration is not None]
    context = LintContext(default_schema=project.schema, tool=project.ledger.tool, target_version_num=version_num)
    findings = _run(migrations, settings.database_url, settings.connect_timeout, config, context)
    return findings, len(migrations), _count_statements(migrations)


def _run(migrations, database_url, connect_timeout, config, context):
    from migration_guard.tasks.lint.engine import lint_migrations

    if not migrations:
        return []
    if database_url is None:
        return lint_migrations(migrations, config=config, context=context)
    from migration_guard.tasks.db import connection

    with connection(database_url.get_secret_value(), connect_timeout=connect_timeout) as conn:
        return lint_migrations(migrations, conn=conn, config=config, context=context)


def _count_statements(migrations) -> int:
    from pglast.parser import ParseError, split

    from migration_guard.tasks.sql.statements import split_statements

    total = 0
    for migration in migrations:
        try:
            total += len(split(migration.sql))
        except ParseError:  # unparsable files: count what the tolerant splitter finds
            total += len(split_statements(migration.sql))
    return total


def _render(findings, fmt: str, files: int, statements: int) -> None:
    counts = {level: sum(1 for f in findings if f.severity == level) for level in ("error", "warning", "info")}
    if fmt == "json":
        print_json({"findings": [f.to_dict() for f in findings],
                    "summary": {**counts, "files": files, "statements": statements}})
        return
    out = []
    if fmt == "github":
        levels = {"error": "error", "warning": "warning", "info": "notice"}
        for f in findings:
            props = f"file={_gh_prop(f.path)},line={f.line},col={f.column},endLine={f.end_line},title={_gh_prop(f.rule)}"
            out.append(f"::{levels[f.severity]} {props}::{_gh_data(f.message + chr(10) + 'fix: ' + f.fix)}")
    else:
        for f in findings:
            out.append(f"{f.location()}  {f.severity}  {f.rule}  {f.message}")
            if f.fix and f.severity != "info":
                out.extend("    " + line.strip() if i else "  fix: " + line.strip() for i, line in enumerate(f.fix.splitlines()))
    out.append(
        f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info in {files} file(s), "
        f"{statements} statement(s)"
    )
    sys.stdout.write("\n".join(out) + "\n")


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def register(app: typer.Typer) -> None:
    app.command("lint")(lint)

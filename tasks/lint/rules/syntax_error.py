"""Parse errors are findings, located at the line and column PostgreSQL's parser reports."""

from migration_guard.tasks.lint.registry import Rule

RULE = Rule(
    code="syntax-error",
    severity="error",
    category="meta",
    summary="The statement does not parse (PostgreSQL's own parser, via pglast).",
    problem=(
        "PostgreSQL will reject the statement, so the migration fails at this point; statements before "
        "it may already have run, leaving a half-applied migration when the file is not one transaction."
    ),
    fix=(
        "Fix the SQL at the reported line and column. Check quotes and dollar quotes ($$ ... $$) are "
        "closed and every statement ends with ';'. Try it locally: psql -v ON_ERROR_STOP=1 -f migration.sql"
    ),
)

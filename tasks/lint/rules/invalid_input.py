"""Files that are not SQL text: binary content, undecodable bytes, unreadable files."""

from migration_guard.tasks.lint.registry import Rule

RULE = Rule(
    code="invalid-input",
    severity="error",
    category="meta",
    summary="The file is not readable SQL text (binary, not UTF-8, unreadable).",
    problem="The migration tool cannot run a file it cannot decode; PostgreSQL rejects NUL bytes and invalid UTF-8.",
    fix="Save the migration as UTF-8 text (iconv -f latin1 -t utf-8 old.sql > migration.sql), or remove the stray file.",
)

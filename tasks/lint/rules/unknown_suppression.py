"""A ``migration-guard:ignore`` comment naming a rule that does not exist."""

from migration_guard.tasks.lint.registry import Rule

RULE = Rule(
    code="unknown-suppression-rule",
    severity="warning",
    category="meta",
    summary="A `-- migration-guard:ignore` comment names no rule or an unknown rule.",
    problem=(
        "A misspelled rule name silences nothing, so the finding the author meant to accept still fires "
        "(or, worse, the author believes a different rule is silenced)."
    ),
    fix=(
        "Name existing rules: `-- migration-guard:ignore ban-drop-column,renaming-column reason`. "
        "List them with `migration-guard lint --explain-all`."
    ),
)

"""Rule require-if-exists-for-non-transactional: CREATE/DROP INDEX CONCURRENTLY without IF [NOT] EXISTS."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.require_if_exists_for_non_transactional import RULE

BAD = [
    'CREATE INDEX CONCURRENTLY "Post_authorId_idx" ON "Post"("authorId");',
    'DROP INDEX CONCURRENTLY "Post_authorId_idx";',
]

GOOD = [
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS "Post_authorId_idx" ON "Post"("authorId");',
    'DROP INDEX CONCURRENTLY IF EXISTS "Post_authorId_idx";',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]


def test_an_unnamed_concurrent_index_is_told_a_rerun_builds_a_duplicate() -> None:
    [finding] = [f for f in lint_text('CREATE INDEX CONCURRENTLY ON "Post" ("authorId");') if f.rule == RULE.code]
    assert "duplicate" in finding.message and "already exists" not in finding.message

"""Rule require-concurrent-index-creation: CREATE INDEX on an existing table without CONCURRENTLY."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.require_concurrent_index_creation import RULE

BAD = [
    'CREATE INDEX "Post_authorId_idx" ON "Post"("authorId");',
    'CREATE UNIQUE INDEX "User_email_key" ON "User"("email");',
    'DO $$ BEGIN CREATE INDEX i ON orders (created_at); END $$;',
]

GOOD = [
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS "Post_authorId_idx" ON "Post"("authorId");',
    'CREATE TABLE "Post" ("id" TEXT NOT NULL, "authorId" TEXT);\nCREATE INDEX "Post_authorId_idx" ON "Post"("authorId");',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

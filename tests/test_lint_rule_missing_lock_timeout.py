"""Rule missing-lock-timeout: A strong lock on an existing table is requested with no lock_timeout set first in the file."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.missing_lock_timeout import RULE

BAD = [
    'ALTER TABLE "User" ADD COLUMN "bio" TEXT;',
    'CREATE TABLE a (id int);\nCREATE INDEX i ON "Post" ("title");',
    "REINDEX INDEX idx;",  # ACCESS EXCLUSIVE on an existing index
    "SET lock_timeout = 0;\nALTER TABLE t ADD COLUMN c int;",  # 0 switches the timeout off
]

GOOD = [
    'SET lock_timeout = \'2s\';\nALTER TABLE "User" ADD COLUMN "bio" TEXT;',
    'CREATE TABLE "Tag" (id bigint);\nCREATE INDEX "Tag_id" ON "Tag" (id);',
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON "Post" ("title");',
    'UPDATE t SET a = 1 WHERE id = 2;',
    'CREATE TABLE "Tag" (id bigint);\nCREATE INDEX "Tag_id" ON "Tag" (id);\nREINDEX INDEX "Tag_id";',  # all new
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

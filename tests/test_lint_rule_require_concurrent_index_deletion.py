"""Rule require-concurrent-index-deletion: DROP INDEX without CONCURRENTLY."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.require_concurrent_index_deletion import RULE

BAD = [
    'DROP INDEX "Post_authorId_idx";',
    'DROP INDEX IF EXISTS app.idx_orders_created;',
]

GOOD = [
    'DROP INDEX CONCURRENTLY IF EXISTS "Post_authorId_idx";',
    'DROP TABLE IF EXISTS "Tmp";',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

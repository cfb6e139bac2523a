"""Rule require-concurrent-reindex: REINDEX without CONCURRENTLY."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.require_concurrent_reindex import RULE

BAD = [
    'REINDEX INDEX "Post_authorId_idx";',
    'REINDEX TABLE orders;',
    'REINDEX (CONCURRENTLY false) INDEX i;',
    'REINDEX (CONCURRENTLY off) TABLE t;',
]

GOOD = [
    'REINDEX INDEX CONCURRENTLY "Post_authorId_idx";',
    'REINDEX (CONCURRENTLY) TABLE orders;',
    'REINDEX SYSTEM shop;'  # PostgreSQL refuses REINDEX SYSTEM CONCURRENTLY: no advice to give,
    'REINDEX (CONCURRENTLY true) INDEX i;',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

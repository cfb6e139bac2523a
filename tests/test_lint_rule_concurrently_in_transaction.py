"""Rule concurrently-in-transaction: CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY, VACUUM ... inside a transaction block."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.concurrently_in_transaction import RULE

BAD = [
    'BEGIN;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);\nCOMMIT;',
    'BEGIN;\nDROP INDEX CONCURRENTLY IF EXISTS i;\nCOMMIT;',
    "DO $$ BEGIN EXECUTE 'CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a)'; END $$;",
]

GOOD = [
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);',
    'BEGIN;\nCREATE INDEX i2 ON t (b);\nCOMMIT;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

"""Rule identifier-too-long: An identifier longer than 63 bytes."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.identifier_too_long import RULE

BAD = [
    'CREATE TABLE "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" (id bigint);',
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS "Order_customerIdentifier_customerIdentifier_customerIdentifier_createdAt_idx" ON "Order" ("customerId");',
    'ALTER TABLE "Order" ADD COLUMN "éééééééééééééééééééééééééééééééé" text;',
]

GOOD = [
    'CREATE TABLE "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" (id bigint);',
    'ALTER TABLE "Order" ADD COLUMN "ééééééééééééééééééééééééééééééé" text;',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

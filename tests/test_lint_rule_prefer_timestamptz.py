"""Rule prefer-timestamptz: A column of type timestamp (without time zone)."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.prefer_timestamptz import RULE

BAD = [
    'CREATE TABLE "User" ("createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP);',
    'ALTER TABLE e ADD COLUMN at timestamp without time zone;',
]

GOOD = [
    'CREATE TABLE "User" ("createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP);',
    'CREATE TABLE e (at timestamp with time zone);',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

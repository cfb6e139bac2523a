"""Rule unique-constraint-without-index: UNIQUE or PRIMARY KEY constraint added to an existing table without USING INDEX."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.unique_constraint_without_index import RULE

BAD = [
    'ALTER TABLE "User" ADD CONSTRAINT "User_email_key" UNIQUE ("email");',
    'ALTER TABLE orders ADD PRIMARY KEY (id);',
]

GOOD = [
    'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "User_email_key" ON "User" ("email");\n',
    'ALTER TABLE "User" ADD CONSTRAINT "User_email_key" UNIQUE USING INDEX "User_email_key";',
    'CREATE TABLE t (id bigint);\nALTER TABLE t ADD PRIMARY KEY (id);',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

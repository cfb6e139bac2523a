"""Rule dml-without-where: UPDATE or DELETE without a WHERE clause on an existing table."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.dml_without_where import RULE

BAD = [
    'UPDATE "User" SET "plan" = \'free\';',
    'DELETE FROM sessions;',
]

GOOD = [
    'UPDATE "User" SET "plan" = \'free\' WHERE "plan" IS NULL;',
    'DELETE FROM sessions WHERE expires_at < now();',
    'CREATE TABLE s (a int);\nUPDATE s SET a = 1;',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

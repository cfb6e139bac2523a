"""Rule enum-value-used-in-same-transaction: ALTER TYPE ... ADD VALUE, then the new value used before the transaction commits."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.enum_value_used_in_same_transaction import RULE

BAD = [
    'ALTER TYPE "Role" ADD VALUE \'ADMIN\';\nUPDATE "User" SET "role" = \'ADMIN\' WHERE "email" = \'root@example.com\';',
    "ALTER TYPE status ADD VALUE IF NOT EXISTS 'archived';\nALTER TABLE posts ALTER COLUMN status SET DEFAULT 'archived';",
]

GOOD = [
    'ALTER TYPE "Role" ADD VALUE \'ADMIN\';\nUPDATE "User" SET "role" = \'USER\' WHERE "role" IS NULL;',
    'ALTER TYPE "Role" ADD VALUE \'ADMIN\';\nCOMMIT;\nUPDATE "User" SET "role" = \'ADMIN\' WHERE id = 1;',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

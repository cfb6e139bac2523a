"""Rule changing-column-type: ALTER COLUMN ... TYPE that rewrites the table (anything but a binary-coercible change)."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.changing_column_type import RULE

BAD = [
    'ALTER TABLE "Order" ALTER COLUMN "amount" SET DATA TYPE BIGINT;',
    'ALTER TABLE orders ALTER COLUMN total TYPE real;',
    'ALTER TABLE orders ALTER COLUMN status TYPE text USING status::text;',
    # without a database the old type is unknown: TEXT may rewrite an integer column (issue 19, item 5)
    'ALTER TABLE "User" ALTER COLUMN "name" SET DATA TYPE TEXT;',
    'ALTER TABLE "User" ALTER COLUMN "name" TYPE varchar;',
    'ALTER TABLE t ALTER COLUMN n TYPE numeric(65,30);',
]

GOOD = [
    'CREATE TABLE o (amount int);\nALTER TABLE o ALTER COLUMN amount TYPE bigint;',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

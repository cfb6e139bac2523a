"""Rule adding-generated-column: ADD COLUMN ... GENERATED ALWAYS AS (...) STORED or GENERATED ... AS IDENTITY on an existing table."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.adding_generated_column import RULE

BAD = [
    'ALTER TABLE orders ADD COLUMN total numeric GENERATED ALWAYS AS (price * quantity) STORED;',
    'ALTER TABLE orders ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;',
]

GOOD = [
    'ALTER TABLE orders ADD COLUMN total numeric;',
    'CREATE TABLE orders (price numeric, quantity int, total numeric GENERATED ALWAYS AS (price * quantity) STORED);',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

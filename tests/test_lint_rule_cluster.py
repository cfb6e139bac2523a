"""Rule cluster: CLUSTER (a full table rewrite under ACCESS EXCLUSIVE)."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.cluster import RULE

BAD = [
    'CLUSTER orders USING orders_created_idx;',
    'CLUSTER;',
]

GOOD = [
    'CREATE TABLE o (id int);\nCLUSTER o USING o_pkey;',
    'ALTER TABLE orders CLUSTER ON orders_created_idx;',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

"""Rule vacuum-full: VACUUM FULL (a full table rewrite under ACCESS EXCLUSIVE)."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.vacuum_full import RULE

BAD = [
    'VACUUM FULL orders;',
    'VACUUM (FULL, ANALYZE) orders;',
    'VACUUM (FULL true) events;',
    'VACUUM (FULL 1, ANALYZE) events;',
]

GOOD = [
    'VACUUM (ANALYZE) orders;',
    'ANALYZE orders;',
    'VACUUM (FULL FALSE) events;',
    'VACUUM (FULL off, ANALYZE) events;',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

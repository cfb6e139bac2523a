"""Rule invalid-input: The file is not readable SQL text (binary, not UTF-8, unreadable)."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.invalid_input import RULE

BAD = [
    'CREATE TABLE t (id int);\x00\x01\x02',
]

GOOD = [
    'CREATE TABLE t (id int);',
    '',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

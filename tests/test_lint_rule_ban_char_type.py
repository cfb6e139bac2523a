"""Rule ban-char-type: A column of type char(n) / character(n)."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.ban_char_type import RULE

BAD = [
    'CREATE TABLE country (code char(2) NOT NULL);',
    'ALTER TABLE country ADD COLUMN iso3 character(3);',
]

GOOD = [
    'CREATE TABLE country (code text NOT NULL CHECK (length(code) = 2));',
    'CREATE TABLE c (v "char");',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

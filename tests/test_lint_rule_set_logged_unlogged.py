"""Rule set-logged-unlogged: ALTER TABLE ... SET LOGGED or SET UNLOGGED on an existing table."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.set_logged_unlogged import RULE

BAD = [
    'ALTER TABLE events SET UNLOGGED;',
    'ALTER TABLE events SET LOGGED;',
]

GOOD = [
    'CREATE UNLOGGED TABLE cache (k text, v text);',
    'CREATE TABLE e (id int);\nALTER TABLE e SET UNLOGGED;',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

"""Rule unknown-suppression-rule: A `-- migration-guard:ignore` comment names no rule or an unknown rule."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.unknown_suppression import RULE

BAD = [
    '-- migration-guard:ignore ban-drop-tables typo\nDROP TABLE t;',
    'CREATE TABLE t (a int);\n-- migration-guard:ignore\nDROP TABLE x;',
]

GOOD = [
    '-- migration-guard:ignore ban-drop-table unused since release 42\nDROP TABLE t;',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

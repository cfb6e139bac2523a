"""Rule domain-constraint: ALTER DOMAIN ... ADD CONSTRAINT without NOT VALID (and CHECKs on new domains, as info)."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.domain_constraint import RULE

BAD = [
    "ALTER DOMAIN email ADD CONSTRAINT email_has_at CHECK (VALUE LIKE '%@%');",
    "CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');",
]

GOOD = [
    "ALTER DOMAIN email ADD CONSTRAINT email_has_at CHECK (VALUE LIKE '%@%') NOT VALID;",
    'CREATE DOMAIN email AS text;',
    'ALTER DOMAIN email VALIDATE CONSTRAINT email_has_at;',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

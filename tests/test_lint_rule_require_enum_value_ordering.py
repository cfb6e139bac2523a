"""Rule require-enum-value-ordering: ALTER TYPE ... ADD VALUE without BEFORE / AFTER."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.require_enum_value_ordering import RULE

BAD = [
    "ALTER TYPE \"Status\" ADD VALUE 'ARCHIVED';",
    "ALTER TYPE app.status ADD VALUE IF NOT EXISTS 'archived';",
]

GOOD = [
    "ALTER TYPE \"Status\" ADD VALUE 'ARCHIVED' AFTER 'DONE';",
    "ALTER TYPE \"Status\" ADD VALUE 'DRAFT' BEFORE 'OPEN';",
    "ALTER TYPE \"Status\" RENAME VALUE 'A' TO 'B';",
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

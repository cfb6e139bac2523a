"""Rule ban-drop-table: DROP TABLE of an existing table."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.ban_drop_table import RULE

BAD = [
    'DROP TABLE "LegacyAudit";',
    'DROP TABLE IF EXISTS app.sessions CASCADE;',
]

GOOD = [
    'CREATE TABLE tmp_import (id int);\nDROP TABLE tmp_import;',
    'DROP VIEW IF EXISTS report_v;',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix.startswith(RULE.fix) and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

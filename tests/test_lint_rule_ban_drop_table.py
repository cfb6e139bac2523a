"""Rule ban-drop-table: DROP TABLE of an existing table."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.ban_drop_table import RULE
from migration_guard.tasks.lint.suppressions import acknowledgement_comment

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
    # the rule's own fix, exactly, then the acknowledgement a destructive (policy) error carries
    assert all(f.why == RULE.problem and f.fix.split("\nIntended? ", 1)[0] == RULE.fix and f.path == "m.sql"
               and f.acknowledgement == acknowledgement_comment(RULE.code) and f.acknowledgement in f.fix
               for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]

"""Rule exclusion-constraint-on-existing-table: EXCLUDE constraint added to an existing table."""

import pytest

from migration_guard.tasks.lint import lint_text
from migration_guard.tasks.lint.rules.exclusion_constraint_on_existing_table import RULE

BAD = [
    'ALTER TABLE booking ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&);',
]

GOOD = [
    'CREATE TABLE booking (room int, during tstzrange);\nALTER TABLE booking ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&);',
    'CREATE TABLE booking2 (room int, during tstzrange, EXCLUDE USING gist (room WITH =, during WITH &&));',
]


@pytest.mark.parametrize("sql", BAD)
def test_flags_bad_sql(sql: str) -> None:
    findings = [f for f in lint_text(sql, "m.sql") if f.rule == RULE.code]
    assert findings, f"{RULE.code} should flag: {sql!r}"
    assert all(f.why == RULE.problem and f.fix == RULE.fix and f.path == "m.sql" for f in findings)


@pytest.mark.parametrize("sql", GOOD)
def test_accepts_safe_sql(sql: str) -> None:
    assert RULE.code not in [f.rule for f in lint_text(sql, "m.sql")]
